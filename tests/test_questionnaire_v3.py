"""The version 3 questionnaire (docs/contributors/policy.md section 1; issue 21 item 2): plain words at a
reading age a patient can manage, one thing per question, the emergency screens first, and
follow-up questions asked only where they apply.

Reading level: the Flesch-Kincaid grade level (textstat), because it is the measure the UK and
US patient-information guidance most often quotes, it maps onto school years (grade 6-7 is a
reading age of about 11 to 12, the level the NHS aims its patient information at), and it reads
sentence length and word length, the two things a question can fix. Every warning-sign question
must be at grade 7 or under; a long list of examples is split into short sentences to get there.
"""
from __future__ import annotations

import pytest
import textstat

from triage.questionnaire import NOT_APPLICABLE
from triage.rulebook import load_rulebook

QUESTIONNAIRE = load_rulebook().questionnaire
QUESTIONS = QUESTIONNAIRE.questions
WARNING_SIGNS = QUESTIONNAIRE.red_flag_questions
MAX_GRADE = 7.0
ORDER = [qid for section in QUESTIONNAIRE.sections for qid in section.questions]


@pytest.mark.parametrize("qid", WARNING_SIGNS)
def test_every_warning_sign_question_reads_at_grade_7_or_under(qid):
    grade = textstat.flesch_kincaid_grade(QUESTIONS[qid].text)
    assert grade <= MAX_GRADE, f"{qid}: Flesch-Kincaid grade {grade}: {QUESTIONS[qid].text}"


def test_the_measure_tells_hard_words_from_plain_ones():
    """The measure really separates: a clinician's phrasing of a question scores well above
    the limit, and the questionnaire's plain one under it (so the test above can fail)."""
    clinical = ("Have you experienced urinary retention, faecal incontinence or perineal "
                "anaesthesia subsequent to the onset of lumbar symptomatology?")
    assert textstat.flesch_kincaid_grade(clinical) > MAX_GRADE + 5
    assert textstat.flesch_kincaid_grade(QUESTIONS["bladder_change"].text) <= MAX_GRADE


@pytest.mark.parametrize("qid, words", [
    ("severe_headache", ["headache"]), ("neck_stiff_fever", ["neck"]),
    ("rash_not_fading", ["rash"]), ("bladder_change", ["peeing"]),
    ("bowel_control", ["leaked"]), ("urine_burning", ["burn"]),
    ("blood_in_urine", ["pink, red or brown"]), ("fever", ["38"]),
    ("feel_very_unwell", ["very unwell"]),
])
def test_the_split_questions_each_ask_one_thing(qid, words):
    """Issue 21: the compound version 2 questions are split (headache / neck / rash, bladder /
    bowel, burning / blood, fever / feeling unwell): each new question asks its own thing and
    not its siblings'."""
    text = QUESTIONS[qid].text.lower()
    for word in words:
        assert word in text
    siblings = {"severe_headache": ["rash", "neck"], "neck_stiff_fever": ["rash", "headache"],
                "rash_not_fading": ["headache", "neck"], "bladder_change": ["poo"],
                "bowel_control": ["flow"], "urine_burning": ["pink", "blood"],
                "blood_in_urine": ["burn"], "fever": ["unwell"], "feel_very_unwell": ["fever"]}
    for other in siblings[qid]:
        assert other not in text, (qid, other)


def test_the_emergency_screens_come_first():
    """Contract section 1: the emergencies that are not in the back are asked straight after
    age, sex and duration, before the injury question."""
    first = ORDER[:ORDER.index("trauma")]
    for qid in ("chest_pain", "severe_headache", "neck_stiff_fever", "rash_not_fading",
                "pregnant", "possibly_pregnant", "pregnancy_symptoms", "abdominal_pain",
                "known_aneurysm"):
        assert qid in first, qid
    assert first[:4] == ["age", "sex", "duration_weeks", "chest_pain"]


def test_every_version_3_question_of_the_contract_is_asked():
    contract = ["severe_headache", "neck_stiff_fever", "rash_not_fading", "possibly_pregnant",
                "recently_given_birth", "known_aneurysm", "bladder_change", "bowel_control",
                "walking_difficulty", "heel_toe_walk", "feel_very_unwell", "diabetes",
                "urine_burning", "blood_in_urine", "side_pain", "worse_on_straining",
                "severe_uncontrolled_pain", "pain_score", "pain_trend", "stops_daily_life",
                "buttock_pain", "night_waking_late", "nsaid_response", "family_spa",
                "psoriasis", "joint_or_heel_pain"]
    assert set(contract) <= set(QUESTIONS)
    for old in ("headache_stiff_neck", "bladder_bowel_change", "urinary_symptoms"):
        assert old not in QUESTIONS and old in QUESTIONNAIRE.replaced


# "asked when" of contract section 1: (question, answers where it is asked, where it is not)
ASKED_WHEN = [
    ("possibly_pregnant", {"sex": "female", "age": 30, "pregnant": False},
     {"sex": "male", "age": 30}),
    ("possibly_pregnant", {"sex": "unsaid", "age": 12, "pregnant": False},
     {"sex": "female", "age": 30, "pregnant": True}),
    ("possibly_pregnant", {"sex": "female", "age": 55, "pregnant": False},
     {"sex": "female", "age": 56, "pregnant": False}),
    ("recently_given_birth", {"sex": "female", "age": 30}, {"sex": "female", "age": 11}),
    ("pregnancy_symptoms", {"possibly_pregnant": True}, {"pregnant": False,
                                                         "possibly_pregnant": False}),
    ("known_aneurysm", {"age": 50}, {"age": 49}),
    ("heel_toe_walk", {"leg_weakness": "stable"}, {"leg_weakness": "worsening"}),
    ("pain_trend", {"duration_weeks": 1}, {"duration_weeks": 0.5}),
    ("buttock_pain", {"duration_weeks": 12}, {"duration_weeks": 11.9}),
    ("nsaid_response", {"duration_weeks": 12}, {"duration_weeks": 11.9}),
    ("both_legs", {"leg_pain": "below_knee", "leg_numbness": False, "leg_weakness": "none"},
     {"leg_pain": "above_knee", "leg_numbness": False, "leg_weakness": "none"}),
]


@pytest.mark.parametrize("qid, asked, skipped", ASKED_WHEN, ids=[a[0] for a in ASKED_WHEN])
def test_a_follow_up_is_asked_only_when_it_applies(qid, asked, skipped):
    assert not QUESTIONNAIRE.is_skipped(qid, asked)
    assert QUESTIONNAIRE.is_skipped(qid, skipped)


def test_a_skipped_warning_sign_follow_up_is_not_applicable_never_no():
    """Contract section 1: a follow-up that does not apply is recorded as not applicable,
    never as "no" for a warning sign (pregnant for a man keeps version 2's implied no)."""
    for qid in ("possibly_pregnant", "recently_given_birth", "pregnancy_symptoms",
                "known_aneurysm", "heel_toe_walk", "both_legs"):
        q = QUESTIONS[qid]
        assert q.red_flag and q.value_if_skipped == NOT_APPLICABLE, qid
