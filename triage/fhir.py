"""The questionnaire as a FHIR R4 ``Questionnaire``; answers from a ``QuestionnaireResponse``.

Export (``triage questions --format fhir``): one ``group`` item per section, holding one item per
question with ``linkId`` = the question id. Types map as integer -> ``integer``, number ->
``decimal``, bool -> ``boolean``, choice -> ``choice`` (``answerOption.valueCoding``, code = the
answer value), text -> ``text``. Ranges use the core ``minValue``/``maxValue`` extensions, the help
text is a ``display`` child item marked as help (``questionnaire-itemControl``), a default is
``initial`` (``initialSelected`` for a choice), and skip logic becomes ``enableWhen``.

Skip logic says when a question is *not* asked; ``enableWhen`` says when it *is*, so the condition
is negated. FHIR's ``!=`` is true when the question has no answer, and ``=`` is false, which is
exactly how the rule grammar treats an unanswered question, so the translation is exact; a skip
condition that a flat ``enableWhen`` list cannot express is refused rather than approximated.

Export of answers (the clinic's FHIR download): ``response_resource`` writes validated answers as a
QuestionnaireResponse that the import below reads back unchanged; ``collection_bundle`` gathers
several into a Bundle of type ``collection``.

Import (``triage assess response.json``): the answers of a ``QuestionnaireResponse`` for this
questionnaire become an ordinary answers mapping, which the questionnaire then validates. Problems
are reported naming the ``linkId``. This module needs no FHIR library; the tests check its output
against the FHIR structure with fhir.resources.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Mapping

from .conditions import All, AnswerTest, AnyOf, Not, Unanswered
from .errors import AnswersError, RulebookError

RESOURCE_ID = "triage-lower-back-pain"
CANONICAL_URL = "urn:triage:Questionnaire:lower-back-pain"
ANSWER_SYSTEM = "urn:triage:answer:"  # + question id: the code system of a choice question's values
HELP_SUFFIX = ".help"
SUBMISSION_SYSTEM = "urn:triage:submission"  # identifier system of a clinic's submission ids
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

_ITEM_TYPES = {"integer": "integer", "number": "decimal", "bool": "boolean", "choice": "choice",
               "text": "text"}
_VALUE_KEYS = {"integer": "valueInteger", "number": "valueDecimal", "bool": "valueBoolean",
               "choice": "valueCoding", "text": "valueString"}
_ANSWER_KEYS = {"integer": "answerInteger", "number": "answerDecimal", "bool": "answerBoolean",
                "choice": "answerCoding", "text": "answerString"}
_EXT_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
_EXT_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
_EXT_ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
_ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"


# --------------------------------------------------------------------------- export

def questionnaire_resource(questionnaire) -> dict:
    """The questionnaire as a FHIR R4 Questionnaire resource (a JSON-ready dict)."""
    return {
        "resourceType": "Questionnaire",
        "id": RESOURCE_ID,
        "url": CANONICAL_URL,
        "version": questionnaire.version,
        "name": "TriageLowerBackPain",
        "title": "Lower back pain triage",
        "status": "active",
        "subjectType": ["Patient"],
        "description": ("Questions for a rule-based triage of lower back pain: warning signs "
                        "first, then the pattern of the pain, posture and coping. Not a "
                        "diagnosis."),
        "item": [_section_item(questionnaire, section) for section in questionnaire.sections],
    }


def _section_item(questionnaire, section) -> dict:
    return {
        "linkId": section.id,
        "type": "group",
        "text": section.title,
        "item": [_question_item(questionnaire.questions[qid], questionnaire)
                 for qid in section.questions],
    }


def _question_item(q, questionnaire=None) -> dict:
    item: dict[str, Any] = {"linkId": q.id, "text": q.text, "type": _ITEM_TYPES[q.type]}
    if q.required:
        item["required"] = True
    extensions = []
    for url, bound in ((_EXT_MIN, q.min), (_EXT_MAX, q.max)):
        if bound is not None and q.type in ("integer", "number"):
            key = "valueInteger" if q.type == "integer" else "valueDecimal"
            extensions.append({"url": url, key: int(bound) if q.type == "integer" else bound})
    if extensions:
        item["extension"] = extensions
    if q.skip_if is not None:
        types = ({qid: other.type for qid, other in questionnaire.questions.items()}
                 if questionnaire is not None else None)
        behaviour, conditions = enable_when(q.skip_if, where=q.id, types=types)
        item["enableWhen"] = conditions
        if len(conditions) > 1:
            item["enableBehavior"] = behaviour
    if q.type == "choice":
        item["answerOption"] = [
            {"valueCoding": _coding(q, value, label), **({"initialSelected": True}
                                                         if value == q.default else {})}
            for value, label in q.choices]
    elif q.default is not None:
        item["initial"] = [{_VALUE_KEYS[q.type]: q.default}]
    item["item"] = [{
        "linkId": q.id + HELP_SUFFIX,
        "type": "display",
        "text": q.help,
        "extension": [{"url": _EXT_ITEM_CONTROL, "valueCodeableConcept": {"coding": [
            {"system": _ITEM_CONTROL_SYSTEM, "code": "help", "display": "Help-Button"}]}}],
    }]
    return item


def _coding(q, value, label) -> dict:
    return {"system": ANSWER_SYSTEM + q.id, "code": value, "display": label}


# --------------------------------------------------------------------------- scored instruments

EXT_ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"  # R4/R4B core extension
EXT_CALCULATED = ("http://hl7.org/fhir/uv/sdc/StructureDefinition/"
                  "sdc-questionnaire-calculatedExpression")
INSTRUMENT_URL = "urn:triage:Questionnaire:instrument:"  # + the instrument's id
BOOL_CODES = ((True, "yes", "Yes"), (False, "no", "No"))


def instrument_resource(instrument, questionnaire) -> dict:
    """A scored instrument (triage/instrument.py) as a FHIR R4 Questionnaire: one choice item
    per screen question, each answer option carrying its points in the core ``ordinalValue``
    extension; the total and each subscale as read-only items computed by an SDC
    ``calculatedExpression`` (FHIRPath summing the ordinal values); the bands, with their
    conditions and thresholds, as display items and in the description. ``validated: false``
    is said in the description. Yes/no questions become choices (yes, no) so each answer can
    carry its points."""
    from .conditions import describe, show_value

    items = []
    for item in instrument.items:
        q = questionnaire.questions[item.question]
        if q.type == "bool":
            options = [(value, code, label) for value, code, label in BOOL_CODES]
        else:
            options = [(value, value, label) for value, label in q.choices]
        items.append({
            "linkId": q.id, "text": q.text, "type": "choice",
            "answerOption": [{"valueCoding": {
                "system": ANSWER_SYSTEM + q.id, "code": code, "display": label,
                "extension": [{"url": EXT_ORDINAL, "valueDecimal": item.score(value)}]}}
                for value, code, label in options],
        })

    def calculated(link_id: str, text: str, members) -> dict:
        ids = " | ".join(f"'{m}'" for m in members)
        return {
            "linkId": link_id, "text": text, "type": "integer", "readOnly": True,
            "extension": [{"url": EXT_CALCULATED, "valueExpression": {
                "language": "text/fhirpath",
                "expression": (f"%resource.repeat(item).where(linkId in ({ids}))"
                               ".answer.value.ordinal().aggregate($this + $total, 0)")}}],
        }

    scores = [calculated("total", "Total score", instrument.questions)]
    scores += [calculated(name, f"Subscale: {label}", members)
               for name, (label, members) in instrument.subscales.items()]
    parameters = "; ".join(f"{p.name} = {show_value(p.value)}"
                           for p in instrument.parameters.values())
    bands = [{"linkId": f"band-{b.band}", "type": "display",
              "text": f"{b.band}: {b.label}, when {describe(b.when)}"
                      + (f" ({parameters})" if parameters else "") + f". {b.advice}"}
             for b in instrument.bands]
    status = {"active": "active", "draft": "draft", "retired": "retired"}[instrument.status]
    validated = ("Validated as published." if instrument.validated else
                 "NOT VALIDATED: its questions and thresholds have not been tested against "
                 "outcomes.")
    return {
        "resourceType": "Questionnaire",
        "id": _fhir_id(instrument.id.lower()),
        "url": INSTRUMENT_URL + instrument.id,
        "version": str(instrument.version),
        "name": "".join(ch for ch in instrument.id.title() if ch.isalnum()),
        "title": instrument.title,
        "status": status,
        "subjectType": ["Patient"],
        "description": (f"{validated} A band (low, medium, high) is given only when the answers "
                        "decide it. Bands: " + "; ".join(
                            f"{b.band} when {describe(b.when)}" for b in instrument.bands)
                        + (f" ({parameters})." if parameters else ".")),
        "copyright": instrument.licence,
        "item": items + scores + [{"linkId": "bands", "type": "group",
                                    "text": "Bands (risk_group)", "item": bands}],
    }


def _fhir_id(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9\-.]", "-", text)[:64]
    return cleaned or "instrument"


def enable_when(skip_if, *, where: str = "", types=None) -> tuple[str, list]:
    """(enableBehavior, enableWhen list) equivalent to "not skip_if". Raises RulebookError when the
    condition needs more than one flat all/any list. `types` (question id -> type) lets a number
    comparison (policy version 3: age 12-55, 12 weeks or more) say answerInteger or
    answerDecimal as its item's type needs; FHIR's comparison, like the rule grammar's, is false
    on an unanswered question, so the negated comparison stays exact."""
    node = _nnf(Not(skip_if))
    if isinstance(node, (All, AnyOf)):
        behaviour = "all" if isinstance(node, All) else "any"
        leaves = list(_flatten(node, type(node)))
    else:
        behaviour, leaves = "all", [node]
    conditions: list[dict] = []
    for leaf in leaves:
        conditions += _leaf_conditions(leaf, behaviour, where, types or {})
    return behaviour, conditions


_FLIPPED = {">=": "<", ">": "<=", "<": ">=", "<=": ">"}


def _leaf_conditions(leaf, behaviour, where, types=None) -> list[dict]:
    negated = isinstance(leaf, Not)
    atom = leaf.child if negated else leaf
    if isinstance(atom, AnswerTest) and atom.op in _FLIPPED:
        # "not age < 12" is "age >= 12"; both are false when age is unanswered, but "not (age
        # < 12)" is true then: enabled only by a known age, as skip logic implies from known
        # answers only (Questionnaire.apply_skip_logic)
        operator = _FLIPPED[atom.op] if negated else atom.op
        kind = (types or {}).get(atom.question)
        if kind == "integer" or (kind is None and isinstance(atom.operand, int)):
            return [{"question": atom.question, "operator": operator,
                     "answerInteger": int(atom.operand)}]
        return [{"question": atom.question, "operator": operator,
                 "answerDecimal": float(atom.operand)}]
    if isinstance(atom, Unanswered):
        if len(atom.questions) > 1 and (behaviour == "all") != negated:
            _refuse(where)
        return [{"question": q, "operator": "exists", "answerBoolean": negated}
                for q in atom.questions]
    if not isinstance(atom, AnswerTest) or atom.op not in ("equals", "in"):
        _refuse(where)
    values = [atom.operand] if atom.op == "equals" else list(atom.operand)
    # `x in [a, b]` is an any of `=`; its negation is an all of `!=`
    if len(values) > 1 and (behaviour == "all") != negated:
        _refuse(where)
    return [{"question": atom.question, "operator": "!=" if negated else "=",
             _answer_key(atom.question, value): _answer_value(atom.question, value)}
            for value in values]


def _answer_key(question, value) -> str:
    # the rule grammar compares only bool and choice answers by value (numbers by parameter,
    # which skip logic cannot use), so these are the two kinds of operand
    return "answerBoolean" if isinstance(value, bool) else "answerCoding"


def _answer_value(question, value):
    if isinstance(value, str):
        return {"system": ANSWER_SYSTEM + question, "code": value}
    return value


def _refuse(where):
    raise RulebookError("this skip logic cannot be written as a FHIR enableWhen list (use one "
                        "flat all or any of answer tests)", file="questionnaire.yaml",
                        where=where or None)


def _nnf(node, negated=False):
    if isinstance(node, Not):
        return _nnf(node.child, not negated)
    if isinstance(node, (All, AnyOf)):
        children = tuple(_nnf(c, negated) for c in node.children)
        return AnyOf(children) if isinstance(node, All) == negated else All(children)
    return Not(node) if negated else node


def _flatten(node, kind):
    for child in node.children:
        if isinstance(child, kind):
            yield from _flatten(child, kind)
        elif isinstance(child, (All, AnyOf)):
            raise RulebookError("this skip logic cannot be written as a FHIR enableWhen list "
                                "(it mixes all and any)", file="questionnaire.yaml")
        else:
            yield child


def response_resource(answers: Mapping, questionnaire, *, identifier: str | None = None,
                      authored: str | None = None, url: str = CANONICAL_URL) -> dict:
    """Validated answers as a FHIR R4 QuestionnaireResponse to ``questionnaire_resource``: one
    group per section, one item per answered question (the value type follows the question's
    type, a choice is its answerOption's coding). ``answers_from_response`` reads it back to the
    same answers; an unanswered question has no item. ``identifier`` (e.g. a clinic's submission
    id) becomes the resource's identifier, and its id when it is a valid FHIR id."""
    groups = []
    for section in questionnaire.sections:
        items = []
        for qid in section.questions:
            value = answers.get(qid)
            if value is None or value == "not_applicable":
                # a follow-up that does not apply is a disabled item in FHIR (its enableWhen is
                # false): no answer; importing the response records it as not applicable again
                continue
            q = questionnaire.questions[qid]
            if q.type == "choice":
                answer = {"valueCoding": _coding(q, value, dict(q.choices).get(value, value))}
            else:
                answer = {_VALUE_KEYS[q.type]: value}
            items.append({"linkId": qid, "text": q.text, "answer": [answer]})
        if items:
            groups.append({"linkId": section.id, "text": section.title, "item": items})
    resource: dict[str, Any] = {"resourceType": "QuestionnaireResponse"}
    if identifier is not None:
        if _FHIR_ID.fullmatch(identifier):
            resource["id"] = identifier
        resource["identifier"] = {"system": SUBMISSION_SYSTEM, "value": identifier}
    resource.update({"questionnaire": f"{url}|{questionnaire.version}",
                     "status": "completed"})
    if authored is not None:
        resource["authored"] = authored
    resource["item"] = groups
    return resource


def collection_bundle(resources: list[dict]) -> dict:
    """A FHIR R4 Bundle of type ``collection`` holding the given resources."""
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": resource} for resource in resources]}


# --------------------------------------------------------------------------- follow-up (issue 25)
#
# A QuestionnaireResponse cannot point at another one (R4: basedOn is CarePlan | ServiceRequest,
# partOf is Observation | Procedure), so the first visit and its check-ins are linked the way FHIR
# links the steps of a plan: one CarePlan (the follow-up plan: its period from the first visit,
# one activity per check-in, the first on the review date), and every QuestionnaireResponse, the
# first visit's and each check-in's, is ``basedOn`` it; all share one anonymous Patient as their
# subject. One Bundle (type collection) per person.

CHECK_IN_URL = "urn:triage:Questionnaire:lower-back-pain-check-in"
FOLLOW_UP_SYSTEM = "urn:triage:follow-up"  # identifier system of the plan and its responses


def follow_up_bundle(first_answers: Mapping, record, rulebook, *, today=None) -> dict:
    """The first visit and its check-ins (a followup.FollowUpRecord) as one FHIR R4 Bundle:
    Patient, CarePlan, the first visit's QuestionnaireResponse and one per check-in, each
    ``basedOn`` the CarePlan. Check-ins dated after `today` are left out."""
    import datetime as _dt

    from .engine import assess
    from .followup import (check_in_questionnaire, new_plan_id, parse_check_in, review_date,
                           review_check_in)

    today = today or _dt.date.today()
    questionnaire = rulebook.questionnaire
    plan_id = record.plan_id if record.plan_id and _FHIR_ID.fullmatch(record.plan_id) \
        else new_plan_id()
    patient_id = f"{plan_id}-p"[:64]
    plan_ref = {"reference": f"CarePlan/{plan_id}"}
    subject = {"reference": f"Patient/{patient_id}"}
    first = assess(first_answers, rulebook, source="first visit")
    check_ins = sorted((c for c in record.check_ins if c.date <= today), key=lambda c: c.date)
    outcome = review_check_in(first_answers, check_ins, rulebook, today,
                              first_visit=record.first_visit)
    due = review_date(record.first_visit, first)
    activities = []
    if due is not None:
        done = any(c.date >= due for c in check_ins)
        activities.append({"detail": {
            "status": "completed" if done else "scheduled",
            "description": (f"Check-in on or after {due.isoformat()}, the first visit's review "
                            f"date ({first.review_in_days} days)"),
            "scheduledPeriod": {"start": due.isoformat()}}})
    plan = {
        "resourceType": "CarePlan", "id": plan_id,
        "identifier": [{"system": FOLLOW_UP_SYSTEM, "value": plan_id}],
        "status": "active", "intent": "plan",
        "title": "Follow-up of lower back pain",
        "description": (f"Check-ins after a triage on {record.first_visit.isoformat()} "
                        f"({first.urgency}); now {outcome.urgency}"
                        + (", escalated" if outcome.escalated else "") + "."),
        "subject": subject,
        "period": {"start": record.first_visit.isoformat()},
        "created": record.first_visit.isoformat(),
    }
    if activities:
        plan["activity"] = activities
    first_response = response_resource(
        questionnaire.validate(first_answers, source="first visit"), questionnaire,
        authored=record.first_visit.isoformat())
    resources = [{"resourceType": "Patient", "id": patient_id, "active": True}, plan,
                 _based_on(first_response, f"{plan_id}-0", plan_ref, subject)]
    questions = check_in_questionnaire(rulebook, first_answers)
    for n, check_in in enumerate(check_ins, start=1):
        answers = parse_check_in(check_in.answers, rulebook, first_answers,
                                 source=f"check-in {n}")
        response = response_resource(answers, questions, authored=check_in.date.isoformat(),
                                     url=CHECK_IN_URL)
        resources.append(_based_on(response, f"{plan_id}-{n}", plan_ref, subject))
    return collection_bundle(resources)


def _based_on(response: dict, rid: str, plan_ref: dict, subject: dict) -> dict:
    """`response` with its id and identifier, based on the plan, about the subject (FHIR's
    element order kept: id first)."""
    out = {"resourceType": "QuestionnaireResponse", "id": rid[:64],
           "identifier": {"system": FOLLOW_UP_SYSTEM, "value": rid},
           "basedOn": [dict(plan_ref)]}
    out.update({k: v for k, v in response.items() if k not in ("resourceType", "id",
                                                                "identifier")})
    out["subject"] = dict(subject)
    return out


def check_in_questionnaire_resource(questions) -> dict:
    """A check-in's questions (followup.check_in_questionnaire) as a FHIR R4 Questionnaire."""
    resource = questionnaire_resource(questions)
    resource.update({"id": RESOURCE_ID + "-check-in", "url": CHECK_IN_URL,
                     "name": "TriageLowerBackPainCheckIn",
                     "title": "Lower back pain follow-up check-in",
                     "description": ("A check-in after a lower back pain triage: the emergency "
                                     "signs again, the pain now, a global rating of change, "
                                     "the activities named at the first visit scored 0-10, and "
                                     "every other warning sign. Which warning-sign questions "
                                     "apply follows from the first visit's answers (its skip "
                                     "logic), so this form has no enableWhen. Not a "
                                     "diagnosis.")})
    for group in resource["item"]:
        for item in group["item"]:
            item.pop("enableWhen", None)
            item.pop("enableBehavior", None)
    return resource


# --------------------------------------------------------------------------- import

def answers_from_response(raw: Mapping, questionnaire, *, source: str = "answers") -> dict:
    """The answers mapping of a FHIR QuestionnaireResponse for this questionnaire.

    The result is raw (not yet validated): ranges and required questions are checked by
    ``Questionnaire.validate`` like any answers file. Raises AnswersError naming the linkId."""
    source = "<stdin>" if source == "-" else source
    if raw.get("status") == "entered-in-error":
        raise AnswersError("the QuestionnaireResponse is marked entered-in-error", file=source)
    _check_questionnaire_reference(raw.get("questionnaire"), source)
    groups = {section.id for section in questionnaire.sections}
    answers: dict[str, Any] = {}

    def walk(items, path):
        if items is None:
            return
        if not isinstance(items, list):
            raise AnswersError("'item' must be a list", file=source, where=path or None)
        for item in items:
            link = item.get("linkId") if isinstance(item, Mapping) else None
            if not isinstance(link, str) or not link:
                raise AnswersError("an item without a linkId", file=source, where=path or None)
            if link in questionnaire.questions:
                if link in answers:
                    raise AnswersError("answered twice", file=source, where=link)
                value = _answer_of(item, questionnaire.questions[link], source)
                if value is not None:
                    answers[link] = value
                for answer in item.get("answer") or []:
                    walk(answer.get("item") if isinstance(answer, Mapping) else None, link)
            elif link in groups or (link.endswith(HELP_SUFFIX)
                                    and link[:-len(HELP_SUFFIX)] in questionnaire.questions):
                if item.get("answer"):
                    raise AnswersError("is not a question and cannot have an answer", file=source,
                                       where=link)
            else:
                match = difflib.get_close_matches(link, list(questionnaire.questions), n=1)
                hint = f" (did you mean '{match[0]}'?)" if match else ""
                raise AnswersError(f"unknown linkId{hint}", file=source, where=link)
            walk(item.get("item"), link)

    walk(raw.get("item"), "")
    return answers


def _check_questionnaire_reference(reference, source) -> None:
    if reference is None:
        return
    url = str(reference).split("|", 1)[0]
    if url != CANONICAL_URL and url.rstrip("/").rsplit("/", 1)[-1] != RESOURCE_ID:
        raise AnswersError(f"the QuestionnaireResponse answers questionnaire {reference!r}, not "
                           f"this one ({CANONICAL_URL})", file=source)


def _answer_of(item: Mapping, q, source):
    answers = item.get("answer") or []
    if not isinstance(answers, list):
        raise AnswersError("'answer' must be a list", file=source, where=q.id)
    if not answers:
        return None
    if len(answers) > 1:
        raise AnswersError(f"{len(answers)} answers given; this question takes one", file=source,
                           where=q.id)
    answer = answers[0]
    values = {k: v for k, v in answer.items() if k.startswith("value")} \
        if isinstance(answer, Mapping) else {}
    if len(values) != 1:
        raise AnswersError(f"expected one {_VALUE_KEYS[q.type]} in the answer", file=source,
                           where=q.id)
    (key, value), = values.items()
    expected = _VALUE_KEYS[q.type]
    accepted = {expected}
    if q.type == "number":
        accepted.add("valueInteger")
    if q.type == "choice":
        accepted.add("valueString")  # some forms record the code as a plain string
    if key not in accepted:
        raise AnswersError(f"expected {expected} for a {q.type} question, got {key}",
                           file=source, where=q.id)
    if key == "valueCoding":
        code = value.get("code") if isinstance(value, Mapping) else None
        if not isinstance(code, str):
            raise AnswersError("valueCoding without a code", file=source, where=q.id)
        system = value.get("system")
        if system is not None and system != ANSWER_SYSTEM + q.id:
            raise AnswersError(f"code system {system!r} is not this question's "
                               f"({ANSWER_SYSTEM + q.id})", file=source, where=q.id)
        return code
    return value
