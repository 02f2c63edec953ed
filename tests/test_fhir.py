"""The questionnaire as an HL7 FHIR R4 Questionnaire, and QuestionnaireResponses read back.

The structure is checked with fhir.resources (its R4B models: R4B changed nothing in Questionnaire
or QuestionnaireResponse from R4), not by hand."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

fhir_questionnaire = pytest.importorskip("fhir.resources.R4B.questionnaire")
fhir_response = pytest.importorskip("fhir.resources.R4B.questionnaireresponse")

from triage.cli import main_group  # noqa: E402
from triage.conditions import questions_read  # noqa: E402
from triage.fhir import questionnaire_resource  # noqa: E402
from triage.rulebook import load_rulebook  # noqa: E402
from triage.clinician.vignettes import load_vignettes  # noqa: E402
from support import depth

RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
RESOURCE = questionnaire_resource(QUESTIONNAIRE)
VIGNETTES = load_vignettes(Path(__file__).parent / "cases")


def question_items(items=None):
    """Every item of the exported Questionnaire that is a question (not a group or help)."""
    for item in RESOURCE["item"] if items is None else items:
        if item["type"] not in ("group", "display"):
            yield item
        yield from question_items(item.get("item", []))


ITEMS = {item["linkId"]: item for item in question_items()}


def response_for(answers: dict) -> dict:
    """A QuestionnaireResponse to the exported Questionnaire, built from the export alone: the
    value type follows each item's FHIR type and a choice is the answerOption's own coding.
    Policy version 3: an answers file may use a replaced version-2 id, which has no item; it is
    read as the questionnaire reads it (its replacements), and a not-applicable follow-up is a
    disabled item, with no answer."""
    if set(answers) & set(QUESTIONNAIRE.replaced):
        answers = QUESTIONNAIRE.parse_given(answers)
    answers = {k: v for k, v in answers.items() if v != "not_applicable"}

    def answer(item, value):
        kind = item["type"]
        if kind == "choice":
            coding = next(option["valueCoding"] for option in item["answerOption"]
                          if option["valueCoding"]["code"] == value)
            return {"valueCoding": coding}
        key = {"boolean": "valueBoolean", "integer": "valueInteger", "decimal": "valueDecimal",
               "text": "valueString", "string": "valueString"}[kind]
        return {key: value}

    def items_of(items):
        out = []
        for item in items:
            if item["type"] == "group":
                out.append({"linkId": item["linkId"], "text": item["text"],
                            "item": items_of(item["item"])})
            elif item["type"] != "display" and answers.get(item["linkId"]) is not None:
                out.append({"linkId": item["linkId"], "text": item["text"],
                            "answer": [answer(item, answers[item["linkId"]])]})
        return [entry for entry in out if entry.get("answer") or entry.get("item")]

    return {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": f"{RESOURCE['url']}|{RESOURCE['version']}",
            "item": items_of(RESOURCE["item"])}


def assess(path) -> tuple[int, str]:
    result = CliRunner().invoke(main_group, ["assess", str(path), "--format", "json"])
    return result.exit_code, result.output


# --------------------------------------------------------------------------- the export

def test_the_export_is_a_valid_fhir_r4_questionnaire():
    parsed = fhir_questionnaire.Questionnaire.model_validate(RESOURCE)
    assert parsed.status == "active"
    # one group per section, in order, holding the questions in the file's order
    assert [group.linkId for group in parsed.item] == [s.id for s in QUESTIONNAIRE.sections]
    for group, section in zip(parsed.item, QUESTIONNAIRE.sections):
        assert [item.linkId for item in group.item] == list(section.questions)


def test_the_cli_prints_the_same_resource(tmp_path):
    out = tmp_path / "q.json"
    result = CliRunner().invoke(main_group, ["questions", "--format", "fhir", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == RESOURCE
    fhir_questionnaire.Questionnaire.model_validate_json(out.read_text())


def test_items_carry_the_questionnaires_types_choices_ranges_and_required():
    fhir_type = {"integer": "integer", "number": "decimal", "bool": "boolean",
                 "choice": "choice", "text": "text"}
    for qid, q in QUESTIONNAIRE.questions.items():
        item = ITEMS[qid]
        assert item["type"] == fhir_type[q.type]
        assert item["text"] == q.text
        assert item.get("required", False) == q.required
        if q.type == "choice":
            assert [o["valueCoding"]["code"] for o in item["answerOption"]] == list(q.values)
        limits = {e["url"].rsplit("/", 1)[-1]: e for e in item.get("extension", [])}
        if q.min is not None:
            assert q.min in limits["minValue"].values()
        if q.max is not None:
            assert q.max in limits["maxValue"].values()


def test_every_enable_when_names_an_earlier_question():
    order = list(ITEMS)
    for link_id, item in ITEMS.items():
        for condition in item.get("enableWhen", []):
            assert order.index(condition["question"]) < order.index(link_id)


def fhir_enabled(item: dict, answers: dict) -> bool:
    """FHIR R4's enableWhen semantics (questionnaire-enable-operator): '=' holds when the answer
    equals the value, '!=' when no answer equals it (so also when unanswered), 'exists' when
    whether there is an answer matches; enableBehavior combines them."""
    def holds(condition):
        value = answers.get(condition["question"])
        expected = next(v for k, v in condition.items() if k.startswith("answer"))
        if isinstance(expected, dict):
            expected = expected["code"]
        if condition["operator"] == "exists":
            return (value is not None) == expected
        if condition["operator"] in (">=", ">", "<", "<="):  # false when unanswered
            import operator
            compare = {">=": operator.ge, ">": operator.gt, "<": operator.lt,
                       "<=": operator.le}[condition["operator"]]
            return value is not None and compare(value, expected)
        equal = value is not None and value == expected
        return equal if condition["operator"] == "=" else not equal

    results = [holds(c) for c in item["enableWhen"]]
    return any(results) if item.get("enableBehavior") == "any" else all(results)


def answer_strategy(qid):
    q = QUESTIONNAIRE.questions[qid]
    if q.type in ("integer", "number"):  # both sides of the version 3 thresholds
        numbers = [0, 1, 11, 12, 49, 50, 55, 56, 80] + ([0.5, 11.9] if q.type == "number" else [])
        return st.sampled_from([None, *numbers])
    return st.sampled_from([None, *q.values])


SKIPPED = [qid for qid, q in QUESTIONNAIRE.questions.items() if q.skip_if is not None]
READ_BY_SKIPS = sorted({read for qid in SKIPPED
                        for read in questions_read(QUESTIONNAIRE.questions[qid].skip_if)})


@settings(max_examples=depth(150), deadline=None)
@given(st.fixed_dictionaries({qid: answer_strategy(qid) for qid in READ_BY_SKIPS}))
def test_enable_when_asks_exactly_the_questions_skip_logic_asks(answers):
    answered = {k: v for k, v in answers.items() if v is not None}
    for qid in SKIPPED:
        assert fhir_enabled(ITEMS[qid], answered) == (not QUESTIONNAIRE.is_skipped(qid, answered))


# --------------------------------------------------------------------------- responses

@pytest.mark.parametrize("vignette", VIGNETTES, ids=lambda v: v.id)
def test_a_response_assesses_like_the_plain_answers(tmp_path, vignette):
    response = response_for(vignette.answers)
    fhir_response.QuestionnaireResponse.model_validate(response)
    (tmp_path / "response.json").write_text(json.dumps(response))
    (tmp_path / "answers.json").write_text(json.dumps(vignette.answers))
    from_response = assess(tmp_path / "response.json")
    from_answers = assess(tmp_path / "answers.json")
    assert from_response[0] == from_answers[0] == 0, from_response[1]
    assert json.loads(from_response[1]) == json.loads(from_answers[1])


def write(tmp_path, response) -> Path:
    path = tmp_path / "response.json"
    path.write_text(json.dumps(response))
    return path


def test_an_unknown_link_id_is_an_error_naming_it(tmp_path):
    response = response_for({"age": 45, "duration_weeks": 2, "trauma": "none"})
    response["item"].append({"linkId": "sadle_numbness", "answer": [{"valueBoolean": True}]})
    code, output = assess(write(tmp_path, response))
    assert code == 2
    assert "sadle_numbness: unknown linkId (did you mean 'saddle_numbness'?)" in output


def test_a_value_of_the_wrong_type_is_an_error_naming_the_link_id(tmp_path):
    response = response_for({"age": 45, "duration_weeks": 2, "trauma": "none"})
    response["item"].append({"linkId": "fever", "answer": [{"valueString": "yes"}]})
    fhir_response.QuestionnaireResponse.model_validate(response)  # valid FHIR, wrong for us
    code, output = assess(write(tmp_path, response))
    assert code == 2
    assert "fever: expected valueBoolean" in output


def test_an_out_of_range_answer_is_refused_like_in_an_answers_file(tmp_path):
    code, output = assess(write(tmp_path, response_for(
        {"age": 150, "duration_weeks": 2, "trauma": "none"})))
    assert code == 2
    assert "age: 150 is out of range" in output


def test_a_response_to_another_questionnaire_is_refused(tmp_path):
    response = response_for({"age": 45, "duration_weeks": 2, "trauma": "none"})
    response["questionnaire"] = "http://example.org/Questionnaire/phq-9"
    code, output = assess(write(tmp_path, response))
    assert code == 2
    assert "phq-9" in output


def test_a_saved_response_can_be_resumed_by_triage_ask(tmp_path):
    path = write(tmp_path, response_for({"age": 45, "sex": "male", "duration_weeks": 2}))
    result = CliRunner().invoke(main_group, ["ask", "--resume", str(path), "--save",
                                             str(tmp_path / "s.json")], input="")
    assert json.loads((tmp_path / "s.json").read_text()) == {
        "age": 45, "sex": "male", "duration_weeks": 2}
    # version 2: the first emergency check comes straight after age, sex and duration
    assert "chest_pain: input ended" in " ".join(result.output.split())


# --------------------------------------------------------------------------- responses written
# (the clinic's FHIR export: one QuestionnaireResponse per submission, in a collection Bundle)

@pytest.mark.parametrize("vignette", VIGNETTES[:12], ids=lambda v: v.id)
def test_a_written_response_reads_back_to_the_same_answers(vignette):
    from triage.fhir import answers_from_response, response_resource

    answers = QUESTIONNAIRE.validate(vignette.answers, source=vignette.id)
    response = response_resource(answers, QUESTIONNAIRE, identifier="a1B2-c3",
                                 authored="2026-12-01T15:04:05+00:00")
    parsed = fhir_response.QuestionnaireResponse.model_validate(response)
    assert parsed.id == "a1B2-c3" and parsed.identifier.value == "a1B2-c3"
    assert str(parsed.authored).startswith("2026-12-01")
    assert QUESTIONNAIRE.validate(answers_from_response(response, QUESTIONNAIRE),
                                  source="back") == answers
    # the written response is the one the tests build from the exported Questionnaire alone
    assert response["item"] == response_for(answers)["item"]


def test_a_bundle_of_responses_is_a_valid_fhir_collection():
    from fhir.resources.R4B.bundle import Bundle

    from triage.fhir import collection_bundle, response_resource

    responses = [response_resource(QUESTIONNAIRE.validate(v.answers, source=v.id), QUESTIONNAIRE,
                                   identifier=f"id_with_underscore_{n}")
                 for n, v in enumerate(VIGNETTES[:3])]
    bundle = Bundle.model_validate(collection_bundle(responses))
    assert bundle.type == "collection" and len(bundle.entry) == 3
    # an identifier that is not a valid FHIR id is kept as the identifier only
    assert "id" not in responses[0] and responses[0]["identifier"]["value"] == "id_with_underscore_0"
