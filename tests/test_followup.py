"""Follow-up check-ins, the library (triage/followup.py, issue 25): what a check-in asks, when a
new warning sign or no improvement by the review date raises the urgency, that it is never
lowered, the course series, the chart against its table, and the FHIR bundle.

Clinical facts: contract section 3 (version 3) for what each warning sign means; Ostelo et al.,
Spine 2008;33(1):90-94 (minimal important change of a 0-10 pain scale: 2 points or 30%); the
Patient-Specific Functional Scale (Stratford et al., Physiotherapy Canada 1995;47:258-263; 2
points on the mean is its detectable change); the NHS "Back pain" page (see a GP if it is not
better after a few weeks), which is why `review_in_days` is the date that self-care ends.
"""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from triage.contract import URGENCY_RANK
from triage.engine import assess
from triage.followup import (GLOBAL_CHANGE, GRC_CHOICES, CheckIn, FollowUpRecord,
                             check_in_questionnaire, follow_up_from_dict, follow_up_to_dict,
                             improvement, missed_check_in, parse_check_in, review_check_in,
                             updated_answers)
from triage.errors import AnswersError
from triage.rulebook import load_rulebook
from support import NO_WARNING_SIGNS

RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
FIRST_VISIT = dt.date(2026, 12, 1)
REVIEW = FIRST_VISIT + dt.timedelta(days=14)  # contract section 3: self-care reviews in 14 days

# A man of 40, two weeks of non-specific pain scored 6, no warning sign: self-care with a review
# in 14 days (contract section 3, last row). He named two activities.
FIRST = {"age": 40, "sex": "male", "duration_weeks": 2, "onset": "gradual", "trauma": "none",
         "pain_score": 6, "pain_trend": "same", "stops_daily_life": False, "diabetes": False,
         **NO_WARNING_SIGNS, "leg_pain": "none", "leg_numbness": False,
         "activity_1": "putting on socks", "activity_1_score": 3,
         "activity_2": "sitting through a film", "activity_2_score": 5}


def check_in(day=REVIEW, **answers) -> CheckIn:
    return CheckIn(day, answers)


def review(*check_ins, today=None, first=FIRST):
    today = today or max((c.date for c in check_ins), default=REVIEW)
    return review_check_in(first, list(check_ins), RULEBOOK, today, first_visit=FIRST_VISIT)


def test_the_first_visit_of_these_tests_is_self_care_with_a_14_day_review():
    first = assess(FIRST, RULEBOOK)
    assert (first.urgency, first.review_in_days) == ("self_care", 14)


# --------------------------------------------------------------------------- what is asked

def test_a_check_in_asks_the_emergency_screen_first_then_pain_change_activities_and_signs():
    questions = check_in_questionnaire(RULEBOOK, FIRST)
    assert [s.id for s in questions.sections] == ["first_checks", "pain_now", "function_now",
                                                   "warning_signs"]
    first_checks = next(s for s in QUESTIONNAIRE.sections if s.id == "first_checks")
    assert questions.sections[0].questions == first_checks.questions
    assert questions.sections[1].questions == ("pain_score", GLOBAL_CHANGE)
    assert [v for v, _ in questions.questions[GLOBAL_CHANGE].choices] == \
        [v for v, _ in GRC_CHOICES] and len(GRC_CHOICES) == 7
    # the activities named at the first visit, by name, scored 0-10
    assert questions.sections[2].questions == ("activity_1_score", "activity_2_score")
    assert "putting on socks" in questions.questions["activity_1_score"].text
    assert questions.questions["activity_1_score"].max == 10


def test_every_warning_sign_of_the_questionnaire_is_asked_again():
    questions = check_in_questionnaire(RULEBOOK, FIRST)
    signs = [qid for s in questions.sections if s.id in ("first_checks", "warning_signs")
             for qid in s.questions]
    assert sorted(signs) == sorted(QUESTIONNAIRE.red_flag_questions)
    assert all(not questions.questions[q].required for q in questions.questions)


def test_skip_logic_of_the_first_visit_applies_to_the_check_in():
    questions = check_in_questionnaire(RULEBOOK, FIRST)
    # a man is not asked about pregnancy; heel-and-toe walking only after stable weakness
    assert questions.is_skipped("pregnant", {})
    assert questions.is_skipped("heel_toe_walk", {})
    assert not questions.is_skipped("heel_toe_walk", {"leg_weakness": "stable"})


def test_no_activities_at_the_first_visit_means_no_activity_questions():
    plain = {k: v for k, v in FIRST.items() if not k.startswith("activity")}
    questions = check_in_questionnaire(RULEBOOK, plain)
    assert "function_now" not in [s.id for s in questions.sections]


def test_an_unknown_answer_id_in_a_check_in_is_an_error_naming_it():
    with pytest.raises(AnswersError, match="activity_3_score"):
        parse_check_in({"activity_3_score": 4}, RULEBOOK, FIRST)  # no third activity named
    with pytest.raises(AnswersError, match="pain_score"):
        parse_check_in({"pain_score": 11}, RULEBOOK, FIRST)


# --------------------------------------------------------------------------- a new warning sign

def test_new_saddle_numbness_at_a_check_in_is_an_emergency_cauda_equina():
    # contract section 3: saddle numbness alone is cauda equina, an emergency
    outcome = review(check_in(REVIEW - dt.timedelta(days=7), saddle_numbness=True, pain_score=3,
                              global_change="better"))
    assert outcome.urgency == "emergency" and outcome.escalated
    assert "cauda_equina" in outcome.assessment.red_flags
    assert outcome.new_signs == ("saddle_numbness",)
    assert any("Saddle numbness" in line for line in outcome.why)
    assert outcome.assessment.stretches == []  # contract section 2: none when emergency


def test_new_chest_pain_on_the_emergency_screen_of_a_check_in_is_an_emergency():
    # contract section 3 (version 2): chest pain with the back pain is an emergency not in the
    # back; the check-in asks it first, as the first visit does
    outcome = review(check_in(REVIEW - dt.timedelta(days=3), chest_pain=True))
    assert outcome.urgency == "emergency"
    assert "non_spinal" in outcome.assessment.red_flags


def test_a_new_fever_at_a_check_in_is_urgent_for_infection():
    # contract section 3: fever is infection, urgent
    outcome = review(check_in(REVIEW - dt.timedelta(days=5), fever=True, pain_score=4,
                              global_change="better"))
    assert (outcome.urgency, outcome.escalated) == ("urgent", True)
    assert "infection" in outcome.assessment.red_flags


def test_leg_weakness_getting_worse_at_a_check_in_is_urgent_progressive_neuro():
    # contract section 3: weakness getting worse is progressive neurology, urgent
    outcome = review(check_in(leg_weakness="worsening", pain_score=2, global_change="better"))
    assert outcome.urgency == "urgent" and "progressive_neuro" in outcome.assessment.red_flags


def test_past_cancer_told_at_a_check_in_is_soon():
    # contract section 3 (version 3): past cancer alone is `soon`
    outcome = review(check_in(REVIEW - dt.timedelta(days=2), cancer_history=True, pain_score=2,
                              global_change="much_better"))
    assert (outcome.urgency, outcome.escalated) == ("soon", True)


def test_a_warning_sign_left_not_sure_at_a_check_in_is_never_self_care():
    # contract section 1: unanswered means unknown, not no; an unknown warning sign is never
    # self-care -- even when everything else is better
    outcome = review(check_in(REVIEW - dt.timedelta(days=2), night_pain=None, pain_score=1,
                              global_change="much_better"))
    assert outcome.urgency == "soon"
    assert "night_pain" in outcome.assessment.unanswered_red_flags


@pytest.mark.parametrize("sign", QUESTIONNAIRE.red_flag_questions)
def test_every_warning_sign_new_at_a_check_in_counts_as_at_a_first_visit(sign):
    # the re-screen drops no warning sign: each one answered alarming at a check-in gives the
    # urgency the first visit would have given with it (contract section 3), never less
    q = QUESTIONNAIRE.questions[sign]
    first = dict(FIRST, sex="female", age=30, leg_numbness=True)  # every sign applies
    context = {"heel_toe_walk": {"leg_weakness": "stable"},
               "pregnancy_symptoms": {"possibly_pregnant": True},
               "known_aneurysm": {"age": 60}}.get(sign, {})
    first = {**first, **context}
    alarming = q.alarming[-1]
    outcome = review(check_in(REVIEW - dt.timedelta(days=1), **{sign: alarming}), first=first)
    direct = assess({**first, sign: alarming}, RULEBOOK)
    assert outcome.assessment.answers[sign] == alarming
    assert sign in outcome.new_signs
    before = assess(first, RULEBOOK).urgency
    assert URGENCY_RANK[outcome.urgency] == max(URGENCY_RANK[direct.urgency],
                                                URGENCY_RANK[before])


def test_a_warning_sign_once_reported_stays_when_a_later_check_in_says_no():
    outcome = review(check_in(REVIEW - dt.timedelta(days=7), fever=True),
                     check_in(REVIEW, fever=False, pain_score=1, global_change="much_better"))
    assert outcome.assessment.answers["fever"] is True
    assert outcome.urgency == "urgent"


# --------------------------------------------------------------------------- the review date

def test_no_improvement_by_the_review_date_moves_self_care_to_soon():
    # NHS "Back pain": see a GP if it is not better after a few weeks; the review date is that
    # point (contract section 3). Pain 6 -> 5 is less than 2 points and less than 30% (Ostelo)
    outcome = review(check_in(REVIEW, pain_score=5, global_change="same",
                              activity_1_score=4, activity_2_score=5))
    assert (outcome.urgency, outcome.escalated, outcome.improved) == ("soon", True, False)
    assert any("review date" in line for line in outcome.why)
    assert [r.id for r in outcome.reasons] == ["FU-NO-IMPROVEMENT"]
    assert outcome.assessment.review_in_days == 14  # soon: book within 14 days


def test_no_improvement_the_day_before_the_review_date_keeps_self_care():
    # the review date itself is the first day self-care ends (on or after it, not after it)
    outcome = review(check_in(REVIEW - dt.timedelta(days=1), pain_score=5, global_change="same"))
    assert (outcome.urgency, outcome.escalated) == ("self_care", False)


def test_a_fall_of_two_points_is_improvement_even_when_under_30_percent():
    # Ostelo 2008: 2 points on the 0-10 scale is the minimal important change (8 -> 6 is 25%)
    first = dict(FIRST, pain_score=8)
    outcome = review(check_in(pain_score=6, global_change="same"), first=first)
    assert (outcome.urgency, outcome.improved) == ("self_care", True)


def test_a_fall_of_30_percent_is_improvement_even_when_under_two_points():
    # Ostelo 2008: or 30% of the starting score (3 -> 2 is 33%, one point)
    first = dict(FIRST, pain_score=3)
    outcome = review(check_in(pain_score=2, global_change="same"), first=first)
    assert (outcome.urgency, outcome.improved) == ("self_care", True)


def test_a_fall_of_one_point_from_six_is_not_improvement():
    outcome = review(check_in(pain_score=5))
    assert (outcome.urgency, outcome.improved) == ("soon", False)


def test_a_rating_of_better_is_improvement_and_a_little_better_alone_is_not():
    assert review(check_in(global_change="better")).urgency == "self_care"
    assert review(check_in(global_change="much_better")).urgency == "self_care"
    assert review(check_in(global_change="little_better")).urgency == "soon"


def test_a_rating_on_the_worse_side_is_never_improvement_even_with_less_pain():
    outcome = review(check_in(pain_score=2, global_change="little_worse"))
    assert (outcome.urgency, outcome.improved) == ("soon", False)


def test_the_activity_mean_up_two_points_is_improvement():
    # PSFS (Stratford 1995): 2 points on the mean is a real change; 3,5 -> 6,6 is 4 -> 6
    outcome = review(check_in(pain_score=6, activity_1_score=6, activity_2_score=6))
    assert (outcome.urgency, outcome.improved) == ("self_care", True)
    outcome = review(check_in(pain_score=6, activity_1_score=4, activity_2_score=6))
    assert (outcome.urgency, outcome.improved) == ("soon", False)


def test_nothing_to_compare_at_the_review_date_is_not_improvement():
    # unknown is not "better" (contract section 1's rule for warning signs, applied here)
    outcome = review(check_in())
    assert outcome.improved is None and outcome.urgency == "soon"


def test_improvement_says_why_in_plain_words():
    improved, why = improvement(FIRST, check_in(pain_score=3, global_change="better"))
    assert improved is True
    assert "from 6 to 3" in why and "better" in why


# --------------------------------------------------------------------------- never lowered

def test_an_urgency_is_never_lowered_by_a_later_better_check_in():
    outcome = review(check_in(REVIEW - dt.timedelta(days=7), fever=True),
                     check_in(REVIEW + dt.timedelta(days=7), fever=False, pain_score=0,
                              global_change="much_better", activity_1_score=10,
                              activity_2_score=10))
    assert outcome.urgency == "urgent"


def test_soon_after_no_improvement_stays_soon_after_a_later_improvement():
    outcome = review(check_in(REVIEW, pain_score=6, global_change="same"),
                     check_in(REVIEW + dt.timedelta(days=7), pain_score=1,
                              global_change="much_better"))
    assert outcome.urgency == "soon" and outcome.escalated
    assert "FU-KEPT" in [r.id for r in outcome.reasons]


def test_a_first_visit_of_soon_is_never_lowered_to_self_care():
    first = dict(FIRST, stops_daily_life=True)  # contract section 3: stops daily life is soon
    assert assess(first, RULEBOOK).urgency == "soon"
    outcome = review(check_in(pain_score=0, global_change="much_better"), first=first)
    assert outcome.urgency == "soon" and not outcome.escalated


# --------------------------------------------------------------------------- the answers

def test_the_updated_answers_take_the_latest_pain_trend_and_the_weeks_since():
    answers = updated_answers(FIRST, [check_in(pain_score=4, global_change="little_worse")],
                              RULEBOOK, first_visit=FIRST_VISIT)
    assert (answers["pain_score"], answers["pain_trend"], answers["duration_weeks"]) == \
        (4, "worse", 4)
    assert answers["activity_1"] == "putting on socks"


def test_a_check_in_before_the_first_visit_is_refused():
    with pytest.raises(AnswersError, match="before the first visit"):
        review(check_in(FIRST_VISIT - dt.timedelta(days=1)), today=REVIEW)


def test_a_missed_check_in_is_after_the_review_date_with_none_on_or_after_it():
    first = assess(FIRST, RULEBOOK)
    early = [check_in(REVIEW - dt.timedelta(days=3))]
    assert not missed_check_in(FIRST_VISIT, first, early, REVIEW)
    assert missed_check_in(FIRST_VISIT, first, early, REVIEW + dt.timedelta(days=1))
    assert not missed_check_in(FIRST_VISIT, first, [check_in(REVIEW)],
                               REVIEW + dt.timedelta(days=1))
    assert review(*early, today=REVIEW + dt.timedelta(days=1)).missed


def test_the_check_ins_file_reads_back_as_written():
    record = FollowUpRecord(FIRST_VISIT, [check_in(pain_score=4)], "plan-1")
    assert follow_up_from_dict(follow_up_to_dict(record)) == record
    with pytest.raises(AnswersError, match="not a check-ins file"):
        follow_up_from_dict({"age": 40})


# --------------------------------------------------------------------------- the series and chart

def test_the_series_holds_date_pain_activity_mean_each_activity_and_rating():
    outcome = review(check_in(REVIEW - dt.timedelta(days=7), pain_score=5,
                              global_change="little_better", activity_1_score=4),
                     check_in(REVIEW, pain_score=3, global_change="better",
                              activity_1_score=6, activity_2_score=8))
    rows = [(p.date, p.label, p.pain, p.psfs_mean, p.activities, p.change)
            for p in outcome.series]
    assert rows == [
        (FIRST_VISIT, "First visit", 6, 4.0,
         (("putting on socks", 3), ("sitting through a film", 5)), None),
        (REVIEW - dt.timedelta(days=7), "Check-in 1", 5, 4.0,
         (("putting on socks", 4), ("sitting through a film", None)), "little_better"),
        (REVIEW, "Check-in 2", 3, 7.0,
         (("putting on socks", 6), ("sitting through a film", 8)), "better")]


def _course_html(series) -> str:
    from triage.templating import environment

    return environment().from_string(
        '{% from "_macros.html.j2" import course %}{{ course(series, id="c") }}').render(
        series=series)


def _chart_values(html: str) -> dict:
    """The values the chart plots, read back from the SVG: each marker's y turned into a score
    by the y-axis' own tick labels (0 and 10), keyed by series and date."""
    svg = re.search(r'<svg[^>]*class="course-chart".*?</svg>', html, re.S).group(0)
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    ticks = {int(t.text): float(t.get("y")) for t in root.iterfind(".//s:text", ns)
             if t.get("class") == "tick-y"}
    y0, y10 = ticks[0], ticks[10]
    out = {}
    for group in root.iterfind(".//s:g", ns):
        key = group.get("data-series")
        if not key:
            continue
        for mark in group:
            if mark.tag.endswith("circle"):
                y = float(mark.get("cy"))
            elif mark.tag.endswith("rect"):
                y = float(mark.get("y")) + float(mark.get("height")) / 2
            else:
                continue
            out[(key, mark.get("data-date"))] = round((y0 - y) / (y0 - y10) * 10, 2)
    return out, root


def _table_values(html: str) -> dict:
    out = {}
    for row in re.findall(r'<tr data-date="([^"]+)">(.*?)</tr>', html, re.S):
        date, cells = row
        pain = re.search(r'<td class="pain">([^<]*)</td>', cells).group(1)
        mean = re.search(r'<td class="psfs">([^<]*)</td>', cells).group(1)
        for key, text in (("pain", pain), ("psfs_mean", mean)):
            if text != "not given":
                out[(key, date)] = float(text)
    return out


def test_the_chart_plots_exactly_the_numbers_of_its_table():
    outcome = review(check_in(REVIEW - dt.timedelta(days=9), pain_score=5,
                              activity_1_score=4, activity_2_score=6),
                     check_in(REVIEW - dt.timedelta(days=2), activity_1_score=7),
                     check_in(REVIEW + dt.timedelta(days=5), pain_score=2,
                              global_change="better", activity_1_score=9, activity_2_score=8))
    html = _course_html(outcome.series)
    plotted, root = _chart_values(html)
    table = _table_values(html)
    assert plotted == table
    assert ("pain", (REVIEW - dt.timedelta(days=2)).isoformat()) not in plotted  # a gap
    assert len(table) == 7
    # for a screen reader: an image labelled by its own title and description, and a table
    assert root.get("role") == "img"
    labels = root.get("aria-labelledby").split()
    assert [e.get("id") for e in root if e.get("id") in labels] == labels
    assert "<table" in html and "<script" not in html
    # readable in print: the two lines differ by dash and marker shape, not by colour alone
    assert {g.get("data-series") for g in root.iter("{http://www.w3.org/2000/svg}g")
            if g.get("data-series")} == {"pain", "psfs_mean"}
    assert "stroke-dasharray" in html


def test_the_chart_and_table_read_the_same_from_plain_dicts():
    outcome = review(check_in(pain_score=3, global_change="better", activity_1_score=6))
    assert _course_html([p.to_dict() for p in outcome.series]) == \
        _course_html(outcome.series)


def test_the_chart_escapes_what_a_person_typed():
    first = dict(FIRST, activity_1="<script>alert(1)</script>")
    outcome = review(check_in(pain_score=3), first=first)
    html = _course_html(outcome.series)
    assert "<script>" not in html and "&lt;script&gt;" in html


# --------------------------------------------------------------------------- FHIR

def test_the_follow_up_bundle_is_valid_fhir_with_every_response_based_on_one_care_plan():
    Bundle = pytest.importorskip("fhir.resources.R4B.bundle").Bundle
    QResponse = pytest.importorskip("fhir.resources.R4B.questionnaireresponse")
    from triage.fhir import CHECK_IN_URL, CANONICAL_URL, follow_up_bundle

    record = FollowUpRecord(FIRST_VISIT, [
        check_in(REVIEW - dt.timedelta(days=7), pain_score=5, global_change="little_better",
                 activity_1_score=4, fever=False),
        check_in(REVIEW, pain_score=3, global_change="better", activity_1_score=6)], "plan-7")
    bundle = follow_up_bundle(FIRST, record, RULEBOOK, today=REVIEW)
    Bundle.model_validate(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    by_type = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    assert len(by_type["CarePlan"]) == 1 and len(by_type["Patient"]) == 1
    plan, patient = by_type["CarePlan"][0], by_type["Patient"][0]
    responses = by_type["QuestionnaireResponse"]
    assert len(responses) == 3  # the first visit and two check-ins
    # fhir.resources does not check reference targets: R4 basedOn is CarePlan|ServiceRequest
    for response in responses:
        QResponse.QuestionnaireResponse.model_validate(response)
        assert [ref["reference"] for ref in response["basedOn"]] == [f"CarePlan/{plan['id']}"]
        assert response["subject"]["reference"] == f"Patient/{patient['id']}"
        assert "partOf" not in response
    assert plan["subject"]["reference"] == f"Patient/{patient['id']}"
    assert [r["questionnaire"].split("|")[0] for r in responses] == \
        [CANONICAL_URL, CHECK_IN_URL, CHECK_IN_URL]
    assert [r["authored"] for r in responses] == \
        ["2026-12-01", "2026-12-08", "2026-12-15"]
    assert plan["activity"][0]["detail"]["scheduledPeriod"]["start"] == "2026-12-15"
    # the check-in's answers are in its response, linkId = question id
    items = {i["linkId"]: i["answer"][0] for g in responses[2]["item"] for i in g["item"]}
    assert items["pain_score"] == {"valueInteger": 3}
    assert items[GLOBAL_CHANGE]["valueCoding"]["code"] == "better"


def test_the_check_in_questionnaire_is_a_valid_fhir_questionnaire():
    Questionnaire = pytest.importorskip("fhir.resources.R4B.questionnaire").Questionnaire
    from triage.fhir import check_in_questionnaire_resource

    resource = check_in_questionnaire_resource(check_in_questionnaire(RULEBOOK, FIRST))
    Questionnaire.model_validate(resource)
    links = {i["linkId"] for g in resource["item"] for i in g["item"]}
    assert set(QUESTIONNAIRE.red_flag_questions) <= links
    assert not any("enableWhen" in i for g in resource["item"] for i in g["item"])


def test_the_report_shows_the_course_and_the_follow_up_reason():
    from triage.report import render_report

    outcome = review(check_in(pain_score=5, global_change="same", activity_1_score=4))
    for fmt in ("html", "markdown", "text"):
        text = render_report(outcome.assessment, RULEBOOK, fmt, today=REVIEW, follow_up=outcome)
        assert "Since the first visit" in text or "SINCE THE FIRST VISIT" in text
        assert "FU-NO-IMPROVEMENT" in text
        assert "putting on socks" in text
    html = render_report(outcome.assessment, RULEBOOK, "html", today=REVIEW, follow_up=outcome)
    assert _chart_values(html)[0] == _table_values(html)
    # without a check-in the report is as before
    plain = render_report(assess(FIRST, RULEBOOK), RULEBOOK, "html", today=REVIEW)
    assert "Since the first visit" not in plain and '<figure class="course"' not in plain
