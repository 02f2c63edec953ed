"""The JSON API: assess answers (the answers format or a FHIR QuestionnaireResponse), read the
questionnaire as a FHIR Questionnaire. The same library calls as `triage assess` and
`triage questions`; errors carry the command line's message, naming the field."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import TriageError

router = APIRouter(prefix="/api", tags=["api"])

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What is wrong, as `triage assess` says it, "
                                                    "e.g. 'age: 200 is out of range: expected a "
                                                    "whole number from 0 to 120'"},
        "field": {"type": "string", "nullable": True,
                  "description": "The question id (or FHIR linkId) at fault, if one is"},
    },
}

ASSESS_BODY = {
    "required": True,
    "content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": True,
                   "description": "Answers keyed by question id (GET /api/questionnaire lists "
                                  "them), or a FHIR R4 QuestionnaireResponse to that "
                                  "questionnaire."},
        "examples": {
            "answers": {"summary": "Answers",
                        "value": {"age": 34, "duration_weeks": 3, "trauma": "none",
                                  "saddle_numbness": False, "sitting_hours": 9}},
            "fhir": {"summary": "FHIR QuestionnaireResponse",
                     "value": {"resourceType": "QuestionnaireResponse", "status": "completed",
                               "item": [{"linkId": "age", "answer": [{"valueInteger": 34}]}]}},
        },
    }},
}


def _error(exc: TriageError) -> JSONResponse:
    detail = ": ".join(part for part in (exc.where, exc.problem) if part)
    if exc.file == "request" and not exc.where:
        detail = exc.problem
    return JSONResponse({"detail": detail, "field": exc.where}, status_code=422)


@router.post("/assess", summary="Assess one set of answers",
             openapi_extra={"requestBody": ASSESS_BODY},
             responses={200: {"description": "The assessment JSON of the contract (section 2): "
                                             "urgency first, then duration class, red flags, "
                                             "causes, stretches and the reasons."},
                        413: {"description": "The request body is over the size limit."},
                        422: {"description": "The answers do not fit the questionnaire.",
                              "content": {"application/json": {"schema": ERROR_SCHEMA}}}})
async def assess(request: Request) -> Any:
    """Assess answers exactly as `triage assess` does, and return the contract's assessment
    JSON. Unanswered warning-sign questions are unknown, never "no"."""
    body = await request.body()
    try:
        raw = read_body(body)
    except TriageError as exc:
        return _error(exc)
    rulebook = request.app.state.rulebook
    try:
        result = await run_in_threadpool(_assess, raw, rulebook)
    except TriageError as exc:
        return _error(exc)
    return result


def read_body(body: bytes):
    """A request body as `triage assess` reads an answers file: the same reader and limits
    (size, UTF-8, duplicate keys, nesting depth, digits of a whole number, lone surrogates), so
    that a body the command line refuses with a message is a 422 here, never a server error."""
    from ..reading import decode_text, limits, parse_json, size_words

    lim = limits()
    if len(body) > lim.max_file_bytes:
        raise TriageError(f"larger than the {size_words(lim.max_file_bytes)} limit for answers")
    text = decode_text(body, "request")
    if not text.strip():
        raise TriageError("empty: expected a JSON object of answers")
    return parse_json(text, "request", lim=lim)  # not a mapping: validate says so


def _assess(raw, rulebook) -> dict:
    from ..ask import check_stored
    from ..engine import assess as run_assessment

    questionnaire = rulebook.questionnaire
    if isinstance(raw, dict) and raw.get("resourceType") == "QuestionnaireResponse":
        given = check_stored(raw, questionnaire, source="request")
        raw = {qid: value for qid, value in given.items() if value is not None}
    valid = questionnaire.validate(raw, source="request")
    return run_assessment(valid, rulebook, source="request").to_dict()


@router.get("/questionnaire", summary="The questionnaire as a FHIR R4 Questionnaire")
def questionnaire(request: Request) -> Any:
    """Every question with its wording, help, type, choices or range, and skip logic (FHIR
    enableWhen), in the order they are asked."""
    from ..fhir import questionnaire_resource

    return questionnaire_resource(request.app.state.rulebook.questionnaire)
