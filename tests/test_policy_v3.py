"""Policy version 3 (docs/contributors/policy.md sections 1, 3 and 5b): the tests that bind it.

* every warning-sign question's alarming answer, alone, gets the urgency the contract's version 3
  table gives it: a floor for the rows that escalate, and the exact urgency for the single
  prompts version 3 relaxed to `soon` (so they can neither slide lower nor creep back up);
* every edge of the table on both sides (age 49/50, 59/60, 69/70; 3/4, 5.9/6, 11.9/12 weeks;
  pain score 6/7; heel-toe walking can/cannot/unanswered; NG65 with 2, 3 and 4 features);
* the replaced version-2 questions are read with the contract's effect, and a not-applicable
  follow-up is never a "no" to a warning sign;
* review_in_days, the stretch safety of version 3, and the migration of every version 1 and 2
  answers file kept in tests/migration (each change of urgency shown with the rules behind it).

The tables are written from the contract's text, not from the rule files: a row removed, a
threshold moved or an urgency lowered fails here (the mutants tried are listed in the report of
issue 21).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from triage.contract import URGENCY_RANK
from triage.engine import assess
from triage.errors import AnswersError
from triage.questionnaire import NOT_APPLICABLE, read_yaml
from triage.rulebook import load_rulebook

ROOT = Path(__file__).resolve().parent.parent
RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
QUESTIONS = QUESTIONNAIRE.questions
RED_FLAG_QUESTIONS = QUESTIONNAIRE.red_flag_questions


def base(**overrides) -> dict:
    """A woman of 40, two weeks of gradual pain without injury, a pain score of 3, every
    warning-sign question answered with its reassuring answer (contract section 1)."""
    case = {"age": 40, "sex": "female", "duration_weeks": 2, "trauma": "none", "onset": "gradual",
            "pain_score": 3, "pain_trend": "same", "stops_daily_life": False, "diabetes": False,
            "leg_pain": "none", "leg_numbness": False}
    for qid in RED_FLAG_QUESTIONS:
        q = QUESTIONS[qid]
        case[qid] = next(v for v in q.values if v not in q.alarming)
    case.update(overrides)
    return case


def urgency(**answers) -> str:
    return assess(base(**answers), RULEBOOK).urgency


# --------------------------------------------------------------------------- the table, alone

# (question, alarming value): (urgency, "at least" or "exactly", context, contract row).
# "exactly" marks the prompts version 3 made `soon` (or left without a row): a test on both
# sides, so the row cannot slide lower, and the over-triage of version 2 cannot creep back.
TABLE = {
    ("chest_pain", True): ("emergency", "at least", {}, "chest_pain: non_spinal, emergency"),
    ("severe_headache", True): ("emergency", "at least", {}, "severe_headache: emergency"),
    ("neck_stiff_fever", True): ("emergency", "at least", {}, "neck_stiff_fever: emergency"),
    ("rash_not_fading", True): ("emergency", "at least", {}, "rash_not_fading: emergency"),
    ("pregnancy_symptoms", True): ("emergency", "at least", {"pregnant": True},
                                   "pregnant with pregnancy_symptoms: emergency"),
    ("pregnant", True): ("soon", "exactly", {"pregnancy_symptoms": False},
                         "pregnant (no other sign): soon"),
    ("possibly_pregnant", True): ("soon", "exactly", {"pregnancy_symptoms": False},
                                  "possibly_pregnant (no other sign): soon"),
    ("recently_given_birth", True): ("soon", "exactly", {}, "recently_given_birth: soon"),
    ("abdominal_pain", True): ("emergency", "at least", {}, "abdominal_pain: emergency"),
    ("known_aneurysm", True): ("emergency", "at least", {"age": 66}, "known_aneurysm: emergency"),
    ("saddle_numbness", True): ("emergency", "at least", {}, "saddle_numbness: cauda_equina"),
    ("bladder_change", True): ("emergency", "at least", {}, "bladder_change: cauda_equina"),
    ("bowel_control", True): ("emergency", "at least", {}, "bowel_control: cauda_equina"),
    ("sexual_dysfunction", True): ("emergency", "at least", {}, "sexual_dysfunction: cauda_equina"),
    ("both_legs", True): ("emergency", "at least", {"leg_numbness": True},
                          "both_legs: cauda_equina, emergency"),
    ("walking_difficulty", True): ("urgent", "at least", {}, "walking_difficulty: urgent"),
    ("leg_weakness", "worsening"): ("urgent", "at least", {}, "leg_weakness worsening: urgent"),
    ("leg_weakness", "stable"): ("soon", "exactly", {"heel_toe_walk": "can"},
                                 "leg_weakness stable, heel_toe_walk can: nerve root, soon"),
    ("heel_toe_walk", "cannot"): ("urgent", "at least", {"leg_weakness": "stable"},
                                  "leg_weakness stable with heel_toe_walk cannot: urgent"),
    ("fever", True): ("urgent", "at least", {}, "fever: infection, urgent"),
    ("severe_uncontrolled_pain", True): ("urgent", "at least", {},
                                         "severe_uncontrolled_pain: urgent"),
    ("back_lump", True): ("urgent", "at least", {}, "back_lump: urgent"),
    ("cancer_history", True): ("soon", "exactly", {}, "cancer_history alone: soon"),
    ("weight_loss", True): ("soon", "exactly", {}, "weight_loss alone (under 50): soon"),
    ("night_pain", True): ("soon", "exactly", {}, "night_pain alone: soon"),
    ("thoracic_pain", True): ("soon", "exactly", {}, "thoracic_pain alone under 70: soon"),
    ("feel_very_unwell", True): ("soon", "exactly", {}, "feel_very_unwell alone: soon"),
    ("blood_in_urine", True): ("soon", "exactly", {}, "blood_in_urine alone: soon"),
    ("urine_burning", True): ("soon", "exactly", {}, "urine_burning alone: soon"),
    ("immunosuppressed", True): ("soon", "exactly", {}, "immunosuppressed alone: soon"),
    ("iv_drug_use", True): ("soon", "exactly", {}, "iv_drug_use alone: soon"),
    # no row on their own: they count only in combination (contract section 3, 5b)
    ("worse_on_straining", True): ("self_care", "exactly", {}, "no row alone (with cancer: urgent)"),
    ("side_pain", True): ("self_care", "exactly", {}, "no row alone (renal rows need more)"),
    ("osteoporosis", True): ("self_care", "exactly", {}, "no row alone (fracture rows need more)"),
    ("long_term_steroids", True): ("self_care", "exactly", {},
                                   "no row alone (fracture rows need more)"),
}


def test_the_table_covers_every_alarming_answer_of_the_questionnaire():
    """Generated from the questionnaire: a warning-sign question added to
    rules/questionnaire.yaml needs its row from the contract here."""
    alarming = {(qid, value) for qid in RED_FLAG_QUESTIONS for value in QUESTIONS[qid].alarming}
    assert alarming == set(TABLE)


@pytest.mark.parametrize("qid, value", sorted(TABLE, key=str), ids=str)
def test_an_alarming_answer_alone_gets_the_contract_urgency(qid, value):
    expected, how, context, row = TABLE[(qid, value)]
    got = assess(base(**{**context, qid: value}), RULEBOOK).urgency
    if how == "exactly":
        assert got == expected, f"{qid}={value!r} alone gave {got}; row '{row}' says {expected}"
    else:
        assert URGENCY_RANK[got] >= URGENCY_RANK[expected], (
            f"{qid}={value!r} alone gave {got}; row '{row}' says {expected}")


# --------------------------------------------------------------------------- rows and their edges

# (answers over the base, expected urgency, red flag that must be named or None, the row).
# Pairs sit on each side of an edge; the urgency is exact, so a threshold moved either way fails.
EDGES = [
    # cancer with neurological symptoms (NG234): emergency; thoracic etc.: urgent; alone: soon
    ({"cancer_history": True, "leg_numbness": True}, "emergency", "malignancy", "cancer with leg symptom"),
    ({"cancer_history": True, "walking_difficulty": True}, "emergency", "malignancy", "cancer with walking difficulty"),
    ({"cancer_history": True, "both_legs": True, "leg_numbness": True}, "emergency", "malignancy", "cancer with both legs"),
    ({"cancer_history": True, "thoracic_pain": True}, "urgent", "malignancy", "cancer with thoracic pain"),
    ({"cancer_history": True, "night_pain": True}, "urgent", "malignancy", "cancer with night pain"),
    ({"cancer_history": True, "worse_on_straining": True}, "urgent", "malignancy", "cancer with straining"),
    ({"cancer_history": True, "severe_uncontrolled_pain": True}, "urgent", "malignancy", "cancer with uncontrolled pain"),
    ({"cancer_history": True, "pain_trend": "worse"}, "urgent", "malignancy", "cancer with worsening pain"),
    ({"cancer_history": True, "pain_trend": "better"}, "soon", None, "cancer alone"),
    # infection with any leg weakness: emergency (each infection risk)
    ({"fever": True, "leg_weakness": "stable", "heel_toe_walk": "can"}, "emergency", "infection", "fever with weakness"),
    ({"iv_drug_use": True, "leg_weakness": "stable", "heel_toe_walk": "can"}, "emergency", "infection", "drugs with weakness"),
    ({"immunosuppressed": True, "leg_weakness": "worsening"}, "emergency", "infection", "immunosuppressed with weakness"),
    ({"diabetes": True, "leg_weakness": "stable", "heel_toe_walk": "can"}, "emergency", "infection", "diabetes with weakness"),
    ({"recently_given_birth": True, "leg_weakness": "stable", "heel_toe_walk": "can"}, "emergency", "infection", "recent birth with weakness"),
    ({"trauma": "major"}, "emergency", "fracture", "major trauma"),
    # heel-toe walking: can / cannot / unanswered
    ({"leg_weakness": "stable", "heel_toe_walk": "can"}, "soon", None, "stable weakness, can heel-toe walk"),
    ({"leg_weakness": "stable", "heel_toe_walk": "cannot"}, "urgent", None, "stable weakness, cannot"),
    ({"leg_weakness": "stable", "heel_toe_walk": None}, "urgent", None, "stable weakness, heel-toe unanswered"),
    # fracture: minor trauma 69/70; sudden no injury with osteoporosis/steroids; at 70+ severe
    ({"trauma": "minor", "age": 69}, "self_care", None, "minor trauma at 69"),
    ({"trauma": "minor", "age": 70}, "urgent", "fracture", "minor trauma at 70"),
    ({"trauma": "minor", "osteoporosis": True}, "urgent", "fracture", "minor trauma with osteoporosis"),
    ({"trauma": "minor", "long_term_steroids": True}, "urgent", "fracture", "minor trauma with steroids"),
    ({"onset": "sudden", "osteoporosis": True}, "urgent", "fracture", "sudden, no injury, osteoporosis"),
    ({"onset": "sudden", "long_term_steroids": True}, "urgent", "fracture", "sudden, no injury, steroids"),
    ({"onset": "sudden", "age": 70, "pain_score": 7}, "urgent", "fracture", "sudden at 70 with pain 7"),
    ({"onset": "sudden", "age": 70, "pain_score": 6}, "self_care", None, "sudden at 70 with pain 6"),
    ({"onset": "sudden", "age": 70, "pain_score": None}, "urgent", "fracture", "sudden at 70, pain unanswered (7)"),
    ({"onset": "sudden", "age": 69, "pain_score": 7}, "urgent", "aaa", "sudden at 69, pain 7: aneurysm, not fracture"),
    # aneurysm: sudden, no injury, at 59/60, pain 6/7 or uncontrolled
    ({"onset": "sudden", "age": 60, "pain_score": 7}, "urgent", "aaa", "sudden at 60 with pain 7"),
    ({"onset": "sudden", "age": 59, "pain_score": 7}, "self_care", None, "sudden at 59 with pain 7"),
    ({"onset": "sudden", "age": 60, "pain_score": 6}, "self_care", None, "sudden at 60 with pain 6"),
    ({"onset": "sudden", "age": 60, "severe_uncontrolled_pain": True}, "urgent", "aaa", "sudden at 60, uncontrolled"),
    ({"onset": "sudden", "age": 60, "pain_score": 7, "trauma": "minor"}, "self_care", None, "sudden at 60 after a minor injury: not this row"),
    # belly pain: aaa at 50+, non_spinal under 50 (both emergency)
    ({"abdominal_pain": True, "age": 50}, "emergency", "aaa", "belly pain at 50"),
    ({"abdominal_pain": True, "age": 49}, "emergency", "non_spinal", "belly pain at 49"),
    # infection: fever; very unwell or night pain with infection risk
    ({"feel_very_unwell": True, "iv_drug_use": True}, "urgent", "infection", "very unwell with drugs"),
    ({"feel_very_unwell": True, "recently_given_birth": True}, "urgent", "infection", "very unwell after a birth"),
    ({"night_pain": True, "diabetes": True}, "urgent", "infection", "night pain with diabetes"),
    ({"night_pain": True, "immunosuppressed": True}, "urgent", "infection", "night pain, immunosuppressed"),
    # renal colic and pyelonephritis
    ({"side_pain": True, "onset": "sudden", "pain_score": 7}, "urgent", "non_spinal", "loin pain, sudden, 7"),
    ({"side_pain": True, "onset": "sudden", "pain_score": 6}, "self_care", None, "loin pain, sudden, 6"),
    ({"side_pain": True, "onset": "sudden", "severe_uncontrolled_pain": True}, "urgent", "non_spinal", "loin pain, sudden, uncontrolled"),
    ({"side_pain": True, "blood_in_urine": True}, "urgent", "non_spinal", "loin pain with blood"),
    ({"side_pain": True, "fever": True}, "urgent", "non_spinal", "loin pain with fever"),
    ({"urine_burning": True, "fever": True}, "urgent", "non_spinal", "burning with fever"),
    # weight loss 49/50, with night pain, with cancer
    ({"weight_loss": True, "age": 50}, "urgent", "malignancy", "weight loss at 50"),
    ({"weight_loss": True, "age": 49}, "soon", None, "weight loss at 49"),
    ({"weight_loss": True, "night_pain": True}, "urgent", "malignancy", "weight loss with night pain"),
    ({"weight_loss": True, "cancer_history": True}, "urgent", "malignancy", "weight loss with cancer"),
    # urgent combinations without a flag
    ({"night_pain": True, "feel_very_unwell": True}, "urgent", None, "night pain with very unwell"),
    ({"thoracic_pain": True, "age": 70}, "urgent", None, "thoracic pain at 70"),
    ({"thoracic_pain": True, "age": 69}, "soon", None, "thoracic pain at 69"),
    ({"thoracic_pain": True, "osteoporosis": True}, "urgent", None, "thoracic with osteoporosis"),
    ({"thoracic_pain": True, "long_term_steroids": True}, "urgent", None, "thoracic with steroids"),
    ({"thoracic_pain": True, "fever": True}, "urgent", None, "thoracic with fever"),
    ({"thoracic_pain": True, "feel_very_unwell": True}, "urgent", None, "thoracic, very unwell"),
    ({"thoracic_pain": True, "weight_loss": True}, "urgent", None, "thoracic with weight loss"),
    # children
    ({"age": 4}, "urgent", None, "under 5"),
    ({"age": 5}, "soon", None, "5: under 16"),
    ({"age": 15, "leg_numbness": True}, "urgent", None, "under 16 with a leg symptom"),
    ({"age": 15, "night_pain": True}, "urgent", None, "under 16 with night pain"),
    ({"age": 15, "walking_difficulty": True}, "urgent", None, "under 16, walking difficulty"),
    ({"age": 15, "fever": True}, "urgent", "infection", "under 16 with fever"),
    ({"age": 16, "leg_pain": "below_knee"}, "self_care", None, "16 with mild sciatica"),
    # both legs unanswered with a leg symptom; pregnancy signs unanswered
    ({"leg_pain": "below_knee", "both_legs": None}, "urgent", None, "both_legs unanswered, leg symptom"),
    ({"pregnant": True, "pregnancy_symptoms": None}, "urgent", None, "pregnant, signs unanswered"),
    ({"possibly_pregnant": True, "pregnancy_symptoms": None}, "urgent", None, "possibly pregnant, signs unanswered"),
    ({"possibly_pregnant": True, "pregnancy_symptoms": True}, "emergency", "non_spinal", "possibly pregnant with signs"),
    # nerve root: 3/4 weeks, pain 6/7 (unanswered 7), disabling, worse, weakness, diabetes
    ({"leg_pain": "below_knee", "duration_weeks": 3}, "self_care", None, "sciatica 3 weeks"),
    ({"leg_pain": "below_knee", "duration_weeks": 4}, "soon", None, "sciatica 4 weeks"),
    ({"leg_pain": "below_knee", "pain_score": 6}, "self_care", None, "sciatica pain 6"),
    ({"leg_pain": "below_knee", "pain_score": 7}, "soon", None, "sciatica pain 7"),
    ({"leg_pain": "below_knee", "pain_score": None}, "soon", None, "sciatica pain unanswered"),
    ({"leg_numbness": True, "stops_daily_life": True}, "soon", None, "sciatica disabling"),
    ({"leg_numbness": True, "pain_trend": "worse"}, "soon", None, "sciatica worse"),
    ({"leg_numbness": True, "diabetes": True}, "soon", None, "sciatica with diabetes"),
    ({"leg_numbness": True, "immunosuppressed": True}, "soon", None, "sciatica, immunosuppressed"),
    ({"leg_pain": "above_knee", "pain_score": 9}, "self_care", None, "pain above the knee is not a leg symptom"),
    # soon rows: subacute 5.9/6 and 11.9/12, persistent at 59/60 with 3/4 weeks, worse at 2 weeks
    ({"duration_weeks": 5.9}, "self_care", None, "5.9 weeks"),
    ({"duration_weeks": 6}, "soon", None, "6 weeks, not better"),
    ({"duration_weeks": 6, "pain_trend": "better"}, "self_care", None, "6 weeks, getting better"),
    ({"duration_weeks": 6, "pain_trend": None}, "soon", None, "6 weeks, trend unanswered (same)"),
    ({"duration_weeks": 11.9, "pain_trend": "better"}, "self_care", None, "11.9 weeks, better"),
    ({"duration_weeks": 12, "pain_trend": "better"}, "soon", None, "12 weeks: chronic"),
    ({"age": 60, "duration_weeks": 4, "pain_trend": "better"}, "soon", None, "60 with 4 weeks"),
    ({"age": 59, "duration_weeks": 4, "pain_trend": "better"}, "self_care", None, "59 with 4 weeks"),
    ({"age": 60, "duration_weeks": 3, "pain_trend": "better"}, "self_care", None, "60 with 3 weeks"),
    ({"pain_trend": "worse", "duration_weeks": 2}, "soon", None, "worse at 2 weeks"),
    ({"pain_trend": "worse", "duration_weeks": 1.5}, "self_care", None, "worse at 1.5 weeks"),
    ({"stops_daily_life": True}, "soon", None, "stops daily life"),
    ({"fear_of_movement": True, "low_mood": True}, "soon", None, "fear and low mood"),
    ({"fear_of_movement": True, "low_mood": False}, "self_care", None, "fear alone"),
    # an unanswered warning sign: never self-care
    ({"walking_difficulty": None}, "soon", None, "a warning sign unanswered"),
]

NG65 = {"night_waking_late": True, "buttock_pain": True, "better_with_exercise": True,
        "nsaid_response": "helps", "family_spa": True, "joint_or_heel_pain": True,
        "psoriasis": True}


def _features(n: int) -> dict:
    chosen = dict(list(NG65.items())[:n])
    return {**{k: (False if k != "nsaid_response" else "no_help") for k in NG65}, **chosen}


EDGES += [
    # NG65: onset 40 (no early-onset feature), 12 weeks or more, 2/3/4 features
    ({"age": 40, "duration_weeks": 20, "pain_trend": "better", **_features(4)}, "soon", "inflammatory", "NG65 with 4"),
    ({"age": 40, "duration_weeks": 20, "pain_trend": "better", **_features(3)}, "soon", None, "NG65 with 3: HLA-B27"),
    ({"age": 40, "duration_weeks": 11.9, "pain_trend": "better", **_features(4)}, "self_care", None, "NG65 4 features, 11.9 weeks"),
    ({"age": 46, "duration_weeks": 52, "pain_trend": "better", **_features(4)}, "soon", None, "NG65 4 features, began at 45"),
]


@pytest.mark.parametrize("answers, expected, flag, row", EDGES, ids=[e[3] for e in EDGES])
def test_each_row_on_both_sides_of_its_edges(answers, expected, flag, row):
    result = assess(base(**answers), RULEBOOK)
    assert result.urgency == expected, f"row '{row}': {result.urgency}, expected {expected}"
    if flag:
        assert flag in result.red_flags, f"row '{row}': {result.red_flags}"


@pytest.mark.parametrize("count, flagged, hla", [(2, False, False), (3, False, True),
                                                 (4, True, False)])
def test_ng65_counts_features_two_three_four(count, flagged, hla):
    """NICE NG65 1.1.1-1.1.2: 4 or more features, refer (flag and cause); exactly 3, an
    HLA-B27 test (soon, no flag); 2 raise nothing of their own (here, 20 weeks and getting
    better, the chronic row still says soon)."""
    result = assess(base(age=40, duration_weeks=20, pain_trend="better", **_features(count)),
                    RULEBOOK)
    assert ("inflammatory" in result.red_flags) is flagged
    assert ("inflammatory" in result.causes) is flagged
    assert any(r.id == "RF-INFLAM-02" for r in result.reasons) is hla


def test_ng65_counts_onset_before_35_as_a_feature_from_the_age_at_onset():
    three = _features(3)
    assert "inflammatory" not in assess(base(age=40, duration_weeks=20, **three),
                                        RULEBOOK).red_flags
    # 35 today after 20 weeks: began at 34.6, the fourth feature
    assert "inflammatory" in assess(base(age=35, duration_weeks=20, **three), RULEBOOK).red_flags
    assert "inflammatory" not in assess(base(age=36, duration_weeks=20, **three),
                                        RULEBOOK).red_flags


def test_highest_urgency_wins_whatever_else_is_answered():
    """Contract section 3: the highest urgency that any rule concludes wins; a relaxed prompt
    beside an emergency never lowers it."""
    result = assess(base(cancer_history=True, night_pain=True, weight_loss=True,
                         thoracic_pain=True, saddle_numbness=True), RULEBOOK)
    assert result.urgency == "emergency" and "cauda_equina" in result.red_flags
    assert result.stretches == [] and result.review_in_days is None


@pytest.mark.parametrize("qid", sorted(RED_FLAG_QUESTIONS))
def test_an_unanswered_warning_sign_is_never_self_care(qid):
    """Contract section 1: each warning-sign question left unanswered (everything else
    reassuring) is never self-care, and the reasons name it."""
    context = {"heel_toe_walk": ("leg_weakness", "stable"),
               "pregnancy_symptoms": ("possibly_pregnant", True),
               "known_aneurysm": ("age", 62), "both_legs": ("leg_numbness", True)}.get(qid)
    answers = base(**{qid: None})
    if context:
        answers[context[0]] = context[1]
    if qid == "leg_weakness":
        answers["heel_toe_walk"] = "can"
    result = assess(answers, RULEBOOK)
    assert result.urgency != "self_care", qid
    assert qid in result.unanswered_red_flags


# --------------------------------------------------------------------------- narrowed questions

@pytest.mark.parametrize("qid, words", [
    ("fever", ["38"]),
    ("cancer_history", ["skin cancer", "melanoma"]),
    ("long_term_steroids", ["inhalers", "3 months", "last year"]),
    ("iv_drug_use", ["last year"]),
    ("back_lump", ["new"]),
    ("both_legs", ["both legs", "start with this back pain"]),
])
def test_a_narrowed_question_asks_its_version_3_meaning(qid, words):
    """Contract section 1, "Narrowed in version 3": the question itself says what a yes means,
    so a yes means what the rule assumes."""
    text = QUESTIONS[qid].text
    for word in words:
        assert word in text, (qid, word)


def test_narrowed_questions_old_and_new_meaning():
    """Old meaning, read the safe way: a version-2 yes to `fever` (which included "feeling
    unwell") is still a fever, urgent. New meaning: feeling unwell alone is feel_very_unwell,
    soon. A version-2 yes to `both_legs` with only pain above the knee errs to yes (emergency);
    under version 3 that ache is not asked about at all (not applicable), self-care."""
    assert urgency(fever=True) == "urgent"
    assert urgency(fever=False, feel_very_unwell=True) == "soon"
    assert urgency(leg_pain="above_knee", both_legs=True) == "emergency"
    ache = base(leg_pain="above_knee")
    del ache["both_legs"]
    result = assess(ache, RULEBOOK)
    assert result.answers["both_legs"] == NOT_APPLICABLE and result.urgency == "self_care"


# --------------------------------------------------------------------------- replaced ids

V2_ONLY = {"age": 40, "sex": "female", "duration_weeks": 2, "trauma": "none"}


@pytest.mark.parametrize("old, replaced_by, yes_means", [
    ("headache_stiff_neck", ["severe_headache", "neck_stiff_fever", "rash_not_fading"],
     ["severe_headache", "neck_stiff_fever", "rash_not_fading"]),
    ("bladder_bowel_change", ["bladder_change", "bowel_control"],
     ["bladder_change", "bowel_control"]),
    ("urinary_symptoms", ["urine_burning", "blood_in_urine"], ["urine_burning"]),
])
def test_a_replaced_id_counts_as_the_contract_says(old, replaced_by, yes_means):
    """Contract section 1, "Replaced": yes counts as yes to the listed replacements, no as no
    to each; a yes beside a new answer of no errs to yes (a contradiction, the safe side)."""
    yes = QUESTIONNAIRE.validate({**V2_ONLY, old: "yes"})
    assert old not in yes
    assert {q for q in replaced_by if yes.get(q) is True} == set(yes_means)
    assert all(q not in yes for q in set(replaced_by) - set(yes_means))  # still unknown
    no = QUESTIONNAIRE.validate({**V2_ONLY, old: False})
    assert all(no[q] is False for q in replaced_by)
    both = QUESTIONNAIRE.validate({**V2_ONLY, old: True, yes_means[0]: False})
    assert both[yes_means[0]] is True
    newer = QUESTIONNAIRE.validate({**V2_ONLY, old: False, replaced_by[0]: True})
    assert newer[replaced_by[0]] is True  # the newer question's own yes is kept
    assert old not in QUESTIONNAIRE.validate({**V2_ONLY, old: None})


def test_a_replaced_id_with_a_bad_value_names_the_id():
    with pytest.raises(AnswersError) as caught:
        QUESTIONNAIRE.validate({**V2_ONLY, "urinary_symptoms": "sometimes"})
    assert "urinary_symptoms" in str(caught.value)


@pytest.mark.parametrize("old, expected", [("headache_stiff_neck", "emergency"),
                                           ("bladder_bowel_change", "emergency"),
                                           ("urinary_symptoms", "soon")])
def test_an_old_yes_still_gets_its_urgency(old, expected):
    answers = base(**{old: True})
    for q in QUESTIONNAIRE.replaced[old].replaced_by:
        del answers[q]
    assert assess(answers, RULEBOOK).urgency == expected


# --------------------------------------------------------------------------- not applicable

def test_not_applicable_is_recorded_only_where_the_question_does_not_apply():
    man = QUESTIONNAIRE.validate({**V2_ONLY, "sex": "male"})
    assert man["possibly_pregnant"] == NOT_APPLICABLE
    assert man["recently_given_birth"] == NOT_APPLICABLE
    assert man["pregnancy_symptoms"] == NOT_APPLICABLE
    older = QUESTIONNAIRE.validate({**V2_ONLY, "age": 56})
    assert older["possibly_pregnant"] == NOT_APPLICABLE
    assert QUESTIONNAIRE.validate({**V2_ONLY, "age": 55}).get("possibly_pregnant") is None
    assert QUESTIONNAIRE.validate({**V2_ONLY, "age": 49})["known_aneurysm"] == NOT_APPLICABLE
    assert QUESTIONNAIRE.validate({**V2_ONLY, "age": 50}).get("known_aneurysm") is None
    assert QUESTIONNAIRE.validate({**V2_ONLY, "leg_weakness": "none"})["heel_toe_walk"] \
        == NOT_APPLICABLE
    assert QUESTIONNAIRE.validate({**V2_ONLY, "leg_weakness": "stable"}).get("heel_toe_walk") \
        is None


def test_a_not_applicable_in_a_file_where_the_question_applies_is_unknown_not_no():
    """A file claiming 'not applicable' for a follow-up that applies is not trusted: the
    question is unknown (never self-care, and the weakness row reads it as unanswered)."""
    result = assess(base(leg_weakness="stable", heel_toe_walk="not_applicable"), RULEBOOK)
    assert "heel_toe_walk" not in result.answers and result.urgency == "urgent"
    woman = assess(base(possibly_pregnant="not_applicable"), RULEBOOK)
    assert "possibly_pregnant" in woman.unanswered_red_flags and woman.urgency != "self_care"
    with pytest.raises(AnswersError):  # only follow-ups may be not applicable
        QUESTIONNAIRE.validate({**V2_ONLY, "fever": "not_applicable"})


# --------------------------------------------------------------------------- review_in_days

@pytest.mark.parametrize("answers, days", [
    ({}, 14),                                                   # self-care
    ({"stops_daily_life": True}, 14),                           # soon
    ({"leg_pain": "below_knee", "pain_trend": "worse"}, 7),     # nerve root getting worse
    ({"leg_pain": "below_knee", "pain_trend": "same"}, 14),     # nerve root, self-care
    ({"pain_trend": "worse"}, 14),                              # worse, not nerve root
    ({"fever": True}, None),                                    # urgent
    ({"chest_pain": True}, None),                               # emergency
])
def test_review_in_days(answers, days):
    """Contract section 3 (version 3): a whole number on self_care and soon, 14 by default, 7
    for nerve root with pain_trend worse, null on urgent and emergency."""
    result = assess(base(**answers), RULEBOOK)
    assert result.review_in_days == days
    assert result.to_dict()["review_in_days"] == days
    if days is not None:
        assert isinstance(result.to_dict()["review_in_days"], int)


# --------------------------------------------------------------------------- stretch safety

FLEXION = {"knee_to_chest", "childs_pose"}
LYING = {"pelvic_tilt", "knee_to_chest", "glute_bridge", "prone_press_up", "hamstring_stretch",
         "figure_four", "lying_knee_rolls"}


@pytest.mark.parametrize("answers, kept", [
    ({"age": 69, "sex": "male"}, True),
    ({"age": 70, "sex": "male"}, False),
    ({"age": 64, "sex": "female", "possibly_pregnant": "not_applicable",
      "recently_given_birth": "not_applicable"}, True),
    ({"age": 65, "sex": "female", "possibly_pregnant": "not_applicable",
      "recently_given_birth": "not_applicable"}, False),
    ({"age": 67, "sex": "male"}, True),
    ({"age": 59, "sex": "male", "onset": "sudden"}, True),
    ({"age": 60, "sex": "male", "onset": "sudden"}, False),
    ({"age": 60, "sex": "male", "onset": "gradual"}, True),
    ({"age": 40, "sex": "male", "osteoporosis": None}, False),
    ({"age": 40, "sex": "male", "long_term_steroids": None}, False),
])
def test_no_loaded_end_range_flexion_when_bones_may_be_fragile(answers, kept):
    """Contract section 3 stretch safety (version 3): 70+, women 65+, sudden onset at 60+,
    osteoporosis or steroids (unanswered counts as yes). Knee-to-chest and child's pose only."""
    result = assess(base(**answers), RULEBOOK)
    offered = FLEXION & set(result.stretches)
    avoided = FLEXION & set(result.avoided_stretches)
    assert (offered == FLEXION) is kept and (avoided == FLEXION) is (not kept), result.stretches


@pytest.mark.parametrize("answers, lying", [
    ({"pregnant": True, "pregnancy_symptoms": False}, False),
    ({"possibly_pregnant": True, "pregnancy_symptoms": False}, False),
    ({"recently_given_birth": True}, False),
    ({"pregnant": None}, False),                        # may be pregnant, not answered
    ({"pregnant": None, "sex": "male"}, True),          # implied no for a man
    ({"pregnant": None, "age": 56}, True),              # outside 12-55
    ({}, True),
])
def test_no_lying_flat_stretches_when_pregnancy_is_possible(answers, lying):
    result = assess(base(**answers), RULEBOOK)
    assert bool(LYING & set(result.avoided_stretches)) is (not lying), result.avoided_stretches


# --------------------------------------------------------------------------- safety net

def test_the_safety_net_names_the_version_3_signs_and_a_date():
    """Issue 21 item 7, from the NHS "Back pain" and "Sciatica" pages: coughing, sneezing or
    straining; pain so bad you cannot sleep; new difficulty walking or unsteady legs; pain
    getting worse; struggling to cope; and a date, not "a few weeks"."""
    from triage.wording import safety_net
    import datetime as dt

    result = assess(base(), RULEBOOK)
    nets = safety_net(RULEBOOK, result, today=dt.date(2026, 12, 7))
    text = " ".join(" ".join(signs) for _, _, signs in nets).lower()
    for words in ("cough", "sneeze", "strain", "cannot sleep", "difficulty walking", "unsteady",
                  "getting worse", "struggling to cope", "not clearly better by 21 december 2026"):
        assert words in text, words
    assert "few weeks" not in text and "{review_date}" not in text
    urgent = assess(base(fever=True), RULEBOOK)
    text = " ".join(" ".join(s) for _, _, s in safety_net(RULEBOOK, urgent)).lower()
    assert "clearly better by" not in text  # no date promised before being seen


# --------------------------------------------------------------------------- migration

MIGRATION = ROOT / "tests" / "migration"
TABLE_FILE = MIGRATION / "v1_v2_to_v3.md"
_BEFORE = {"desk_worker": "self_care", "emergency": "emergency", "soon": "soon",
           "urgent": "urgent"}


def _migration_rows() -> list[tuple]:
    """Every version 1 and 2 answers file kept in tests/migration (the examples of those
    versions, and the vignettes with the urgency they expected then): its urgency then and now,
    and the rules that decided the new urgency."""
    rows = []
    for path in sorted(MIGRATION.glob("v*/*.yaml")):
        version = path.parent.name
        data = read_yaml(path)
        if path.name.startswith("example_"):
            name = path.stem.removeprefix("example_")
            cases = [(name, {k: v for k, v in data.items()}, _BEFORE[name])]
        else:
            cases = []
            for case in data["cases"]:
                expect = case.get("expect") or {}
                before = expect.get("urgency") or (f">={expect['urgency_at_least']}"
                                                   if "urgency_at_least" in expect else "?")
                cases.append((case["id"], case["answers"], before))
        for case_id, answers, before in cases:
            result = assess(answers, RULEBOOK)  # every old file stays valid
            after = result.urgency
            deciding = [r.id for r in result.reasons
                        if r.id in _concluding(after)] or ["(none)"]
            rows.append((f"{version}/{path.stem}", case_id, before, after,
                         ", ".join(deciding)))
    return rows


def _concluding(urgency: str) -> set:
    return {r.id for r in RULEBOOK.active_rules if ("urgency", urgency) in r.then}


def render_migration_table() -> str:
    lines = ["# Answers files of versions 1 and 2 under policy version 3",
             "",
             "Generated by tests/test_policy_v3.py (`python tests/test_policy_v3.py` rewrites it);",
             "the test fails when it is out of date. `before` is the urgency the file's version",
             "gave (a vignette's expected urgency, or an example's own name); `after` is version",
             "3's; `decided by` lists the rules that concluded the new urgency.",
             "",
             "| file | case | before | after | decided by |",
             "|---|---|---|---|---|"]
    for source, case_id, before, after, why in _migration_rows():
        mark = "" if before.lstrip(">=") == after or (
            before.startswith(">=") and URGENCY_RANK[after] >= URGENCY_RANK[before[2:]]) \
            else " **changed**"
        lines.append(f"| {source} | {case_id} | {before} | {after}{mark} | {why} |")
    return "\n".join(lines) + "\n"


def test_every_version_1_and_2_answers_file_stays_valid_and_its_changes_are_shown():
    """Issue 21 item 3: each old file is assessed; each change of urgency is listed with the
    rules behind it in tests/migration/v1_v2_to_v3.md, which must match what the rules do."""
    rows = _migration_rows()
    assert len(rows) > 150
    assert TABLE_FILE.read_text(encoding="utf-8") == render_migration_table(), (
        "tests/migration/v1_v2_to_v3.md is out of date: run python tests/test_policy_v3.py")


# The one emergency of version 2 that the contract's version 3 table itself moves: past cancer
# with thoracic pain and no neurological symptom is the same-day malignancy row (NICE NG234:
# contact within 24 hours; immediately only with neurological symptoms).
V3_MOVED_EMERGENCIES = {"mscc-cancer-with-thoracic-pain":
                        "contract v3: cancer_history with thoracic_pain is malignancy, urgent"}


def test_no_version_2_emergency_is_lower_under_version_3():
    """Version 3 never weakens an emergency row: every old file that was an emergency still is,
    but for the row the contract itself moved (listed above, with its reason)."""
    for source, case_id, before, after, _ in _migration_rows():
        if before == "emergency" and case_id not in V3_MOVED_EMERGENCIES:
            assert after == "emergency", (source, case_id)
        if case_id in V3_MOVED_EMERGENCIES:
            assert after == "urgent", (source, case_id)


if __name__ == "__main__":
    TABLE_FILE.write_text(render_migration_table(), encoding="utf-8")
    print(f"wrote {TABLE_FILE}")


def test_the_review_date_is_in_the_terminal_the_report_and_explain(tmp_path):
    """Issue 21 item 6: review_in_days in the terminal (`triage assess`), the report ("if it is
    not clearly better by DATE, book ...") and `triage explain`; none on urgent."""
    import datetime as dt
    import json

    from click.testing import CliRunner

    from triage.assessment import format_text
    from triage.cli import main_group
    from triage.report import render_report

    day = dt.date(2026, 12, 7)
    calm = assess(base(), RULEBOOK)
    assert "not clearly better by 21 December 2026" in " ".join(
        render_report(calm, RULEBOOK, "text", today=day).split())
    sooner = assess(base(leg_pain="below_knee", pain_trend="worse"), RULEBOOK)
    assert "within 7 days, by 14 December 2026" in " ".join(
        render_report(sooner, RULEBOOK, "markdown", today=day).split())
    assert "Review:" in format_text(calm, RULEBOOK, width=100)
    assert "Review:" not in format_text(assess(base(fever=True), RULEBOOK), RULEBOOK, width=100)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(base(leg_pain="below_knee", pain_trend="worse")))
    out = CliRunner().invoke(main_group, ["explain", str(path)]).output
    assert "Review in 7 days" in out and "review_days_sooner" in out
    data = json.loads(CliRunner().invoke(main_group, ["assess", str(path), "--format",
                                                      "json"]).output)
    assert data["review_in_days"] == 7
