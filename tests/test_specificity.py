"""The specificity benchmark (benchmarks/specificity.py; contract section 3 "Specificity").

What a reader of its figures relies on:
* the population has the case mix population.yaml states (contract: about 88% non-specific, 8%
  nerve root, 1% axial SpA, 2% organ causes, 1% serious spinal) and the stated demographics, and
  every condition that needs emergency care is in it;
* every answers row is valid for the version it targets: `triage batch` of this checkout reports
  no invalid row, and the version-3 rows use only contract ids and ask a follow-up only where the
  contract says it applies;
* a narrowed version-3 question is never answered yes where the broad version-2 words were
  answered no (contract section 1: a version-2 yes is at least as alarming), and the broad words
  draw more yes answers from people without the condition;
* the four figures are the contract's definitions, checked on a hand-made population.
No figure of the real rules is asserted here: those are what the benchmark measures.
"""
from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import specificity  # noqa: E402

POPULATION = specificity.load_population()
SIZE = 4000


@pytest.fixture(scope="module")
def central():
    return specificity.generate(POPULATION, SIZE, seed=11, scenario="central")


# contract section 1: every id of versions 1, 2 and 3
CONTRACT_IDS = set("""age sex duration_weeks onset trauma leg_pain leg_numbness leg_weakness both_legs
saddle_numbness bladder_bowel_change fever weight_loss cancer_history night_pain osteoporosis
long_term_steroids immunosuppressed iv_drug_use abdominal_pain morning_stiffness
better_with_exercise sitting_hours pelvis_tips_forward exaggerated_arch tight_hip_flexors weak_glutes
fear_of_movement low_mood notes chest_pain headache_stiff_neck pregnant pregnancy_symptoms
urinary_symptoms sexual_dysfunction thoracic_pain back_lump severe_headache neck_stiff_fever
rash_not_fading possibly_pregnant recently_given_birth known_aneurysm bladder_change bowel_control
walking_difficulty heel_toe_walk feel_very_unwell diabetes urine_burning blood_in_urine side_pain
worse_on_straining severe_uncontrolled_pain pain_score pain_trend stops_daily_life buttock_pain
night_waking_late nsaid_response family_spa psoriasis joint_or_heel_pain""".split())
REPLACED_IN_V3 = {"headache_stiff_neck", "bladder_bowel_change", "urinary_symptoms"}
V3_ONLY = {"severe_headache", "neck_stiff_fever", "rash_not_fading", "possibly_pregnant",
           "recently_given_birth", "known_aneurysm", "bladder_change", "bowel_control",
           "walking_difficulty", "heel_toe_walk", "feel_very_unwell", "diabetes", "urine_burning",
           "blood_in_urine", "side_pain", "worse_on_straining", "severe_uncontrolled_pain",
           "pain_score", "pain_trend", "stops_daily_life", "buttock_pain", "night_waking_late",
           "nsaid_response", "family_spa", "psoriasis", "joint_or_heel_pain"}


# ------------------------------------------------------------------------------- the population

def test_case_mix_matches_the_stated_shares(central):
    """The contract's case mix (Henschke 2009; Jarvik & Deyo 2002), group by group."""
    groups = Counter(POPULATION["conditions"][p["condition"]]["group"] for p, *_ in central)
    assert sum(groups.values()) == SIZE
    for group, spec in POPULATION["groups"].items():
        expected = spec["share"] * SIZE
        # allocated, not sampled: off only by rounding (one place per condition at most)
        assert abs(groups[group] - expected) <= len(POPULATION["conditions"]), group
    stated = {"nonspecific": 0.88, "nerve_root": 0.08, "axial_spa": 0.01, "organ": 0.02,
              "serious_spinal": 0.01}
    for group, share in stated.items():
        assert POPULATION["groups"][group]["share"] == pytest.approx(share)
        conditions = [c["share"] for c in POPULATION["conditions"].values() if c["group"] == group]
        assert sum(conditions) == pytest.approx(share), group


def test_demographics_within_sampling_error(central):
    """Age and sex of the Sydney primary-care cohort (Henschke 2008: mean 43.3, 54.8% men), the
    duration mix stated in population.yaml; within four standard errors."""
    demo = POPULATION["demographics"]
    nonspecific = [p for p, *_ in central if p["condition"] == "nonspecific"]
    n = len(nonspecific)
    ages = [p["age"] for p in nonspecific]
    assert abs(sum(ages) / n - demo["age"]["mean"]) < 4 * demo["age"]["sd"] / math.sqrt(n)
    assert min(ages) >= 18 and max(ages) <= 90

    def close(count, share):
        return abs(count / n - share) < 4 * math.sqrt(share * (1 - share) / n)

    assert close(sum(p["sex"] == "female" for p in nonspecific), demo["female"]["share"])
    weeks = [p["duration_weeks"] for p in nonspecific]
    assert close(sum(w < 6 for w in weeks), demo["duration"]["acute"])
    assert close(sum(w >= 12 for w in weeks), demo["duration"]["chronic"])


def test_every_emergency_condition_appears_with_its_need(central):
    emergencies = {cid for cid, c in POPULATION["conditions"].items() if c["need"] == "emergency"}
    assert {"cauda_equina", "fracture_major_trauma", "mscc", "epidural_abscess", "aaa_symptomatic",
            "cardiac_aortic", "meningitis_sah", "pregnancy_complication"} <= emergencies
    seen = Counter(p["condition"] for p, need, *_ in central if need == "emergency")
    for cid in emergencies:
        assert seen[cid] >= 1, f"{cid} missing from {SIZE} people"
    # and each presents with a sign guidance names for it
    for person, need, a2, a3 in central:
        if person["condition"] == "cauda_equina":
            assert any(a3.get(q) is True for q in ("saddle_numbness", "bladder_change",
                                                   "bowel_control", "sexual_dysfunction",
                                                   "both_legs")) or len(a3) < len(a2)


def test_population_file_names_a_source_for_every_rate():
    for name, entry in POPULATION["answers"].items():
        assert entry.get("source"), name
        assert entry["low"] <= entry["central"] <= entry["high"] or name == "trend_better", name
    for cid, c in POPULATION["conditions"].items():
        assert c.get("source") and c["need"] in ("emergency", "urgent", "soon", "self_care",
                                                 "by_course"), cid


# ------------------------------------------------------------------------------ the answer rows

@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_answer_rows_are_valid_for_their_version(central, tmp_path):
    """`triage batch` of this checkout accepts every row (version-2 ids stay valid in version 3;
    version-3 rows fold onto version-2 ids only while this checkout lacks them)."""
    version = specificity.Version("here", None, tmp_path)
    rows2, rows3 = [], []
    for person, _need, a2, a3 in central[:600]:
        rows2.append({"case_id": f"p{person['number']}", **a2})
        folded, _ = version.fold(a3)
        rows3.append({"case_id": f"p{person['number']}", **folded})
    for rows, name in ((rows2, "v2"), (rows3, "v3")):
        results = version.batch(rows, name)
        assert len(results) == len(rows)
        assert [r for r in results if "error" in r] == []
        assert {r["urgency"] for r in results} <= set(specificity.URGENCIES)


def test_rows_use_only_their_versions_ids_and_ask_follow_ups_only_when_they_apply(central):
    for person, _need, a2, a3 in central:
        assert set(a2) <= CONTRACT_IDS - V3_ONLY
        assert set(a3) <= CONTRACT_IDS - REPLACED_IN_V3
        age, weeks = person["age"], person["duration_weeks"]
        if age < 50:
            assert "known_aneurysm" not in a3
        if a3.get("leg_weakness") != "stable":
            assert "heel_toe_walk" not in a3
        if weeks < 12:
            assert "buttock_pain" not in a3 and "nsaid_response" not in a3
        if weeks < 1:
            assert "pain_trend" not in a3
        if person["sex"] == "male":
            assert not {"pregnant", "possibly_pregnant", "recently_given_birth"} & set(a3)
            assert "pregnant" not in a2
        leg3 = (a3.get("leg_pain") == "below_knee" or a3.get("leg_numbness")
                or a3.get("leg_weakness") not in (None, "none"))
        if "both_legs" in a3:
            assert leg3
        if not a2.get("pregnant"):
            assert "pregnancy_symptoms" not in a2


def test_a_narrowed_yes_is_always_a_broad_yes(central):
    """Contract section 1: a version-2 yes is at least as alarming as the version-3 one."""
    pairs = [("fever", ("fever", "feel_very_unwell")), ("cancer_history", ("cancer_history",)),
             ("back_lump", ("back_lump",)), ("long_term_steroids", ("long_term_steroids",)),
             ("iv_drug_use", ("iv_drug_use",)), ("both_legs", ("both_legs",)),
             ("bladder_bowel_change", ("bladder_change", "bowel_control")),
             ("headache_stiff_neck", ("severe_headache", "neck_stiff_fever", "rash_not_fading")),
             ("urinary_symptoms", ("urine_burning", "blood_in_urine"))]
    for _person, _need, a2, a3 in central:
        for old, new in pairs:
            if old in a2 and any(a3.get(q) is True for q in new):
                assert a2[old] is True, (old, a2, a3)


def test_the_broad_words_draw_more_false_yes_answers(central):
    """The point of the version-3 words (contract 5b): among people without a serious or organ
    cause, the broad version-2 questions are answered yes more often."""
    plain = [(a2, a3) for p, _n, a2, a3 in central if p["condition"] == "nonspecific"]
    for q2, q3 in (("fever", "fever"), ("both_legs", "both_legs"),
                   ("cancer_history", "cancer_history"),
                   ("headache_stiff_neck", "severe_headache")):
        yes2 = sum(a2.get(q2) is True for a2, _ in plain)
        yes3 = sum(a3.get(q3) is True for _, a3 in plain)
        assert yes2 > yes3 + 10, (q2, yes2, yes3)


def test_same_seed_same_people_and_scenarios_move_the_rates_one_way():
    low = specificity.generate(POPULATION, 1500, seed=5, scenario="low")
    high = specificity.generate(POPULATION, 1500, seed=5, scenario="high")
    again = specificity.generate(POPULATION, 1500, seed=5, scenario="low")
    assert [r[2] for r in low] == [r[2] for r in again]
    assert [p["condition"] for p, *_ in low] == [p["condition"] for p, *_ in high]
    for q in ("night_pain", "fever", "both_legs"):
        assert sum(r[2].get(q) is True for r in high) > sum(r[2].get(q) is True for r in low)


# --------------------------------------------------------------------------------- the figures

def test_figures_on_a_hand_made_population():
    """Four people: an emergency sent to urgent, a same-day need met, two who need self-care of
    whom one is told self-care and one is told soon."""
    needs = ["emergency", "urgent", "self_care", "self_care"]
    told = ["urgent", "urgent", "self_care", "soon"]
    f = specificity.figures(needs, told)
    assert f["urgent_or_emergency"] == pytest.approx(0.5)
    assert f["same_day_needs_met"] == pytest.approx(1.0)
    assert f["emergencies_met"] == pytest.approx(0.0)
    assert f["self_care_told_self_care"] == pytest.approx(0.5)
    f = specificity.figures(["soon", "self_care"], ["emergency", "soon"])
    assert f["urgent_or_emergency"] == pytest.approx(0.5)
    assert f["emergencies_met"] is None and f["same_day_needs_met"] is None
    assert f["self_care_told_self_care"] == pytest.approx(0.0)


def test_rule_breakdown_splits_each_person_among_the_rules_that_set_their_urgency():
    results = [
        {"urgency": "emergency", "reasons": [{"id": "A"}, {"id": "B"}, {"id": "S"}]},
        {"urgency": "urgent", "reasons": [{"id": "C"}, {"id": "S"}]},
        {"urgency": "urgent", "reasons": [{"id": "A"}, {"id": "C"}]},  # A is emergency: not it
        {"urgency": "soon", "reasons": [{"id": "S"}]},
    ]
    rule_urgency = {"A": "emergency", "B": "emergency", "C": "urgent", "S": "soon"}
    out = specificity.rule_breakdown(results, rule_urgency, ["emergency", "soon", "urgent", "soon"])
    assert out["A"]["pp"] == pytest.approx(12.5) and out["B"]["pp"] == pytest.approx(12.5)
    assert out["C"]["pp"] == pytest.approx(50.0) and out["C"]["alone_pp"] == pytest.approx(50.0)
    assert out["C"]["not_needed_pp"] == pytest.approx(25.0)
    assert out["A"]["alone_pp"] == 0 and "S" not in out
    assert sum(v["pp"] for v in out.values()) == pytest.approx(75.0)  # the urgent+emergency share


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_figures_through_the_real_batch(tmp_path):
    """Hand-made people whose urgency the contract fixes in every version: chest pain is an
    emergency (section 3, first row), a major injury is an emergency (fracture row), and acute
    pain with every warning sign answered no is self-care (last row)."""
    version = specificity.Version("here", None, tmp_path)
    # every warning-sign question of this checkout answered with its reassuring answer
    calm = {q: specificity._reassuring(version, q) for q, spec in version.questions.items()
            if spec.get("red_flag")}
    calm.update(sex="male", leg_pain="none", leg_numbness=False)
    calm.update({q: v for q, v in (("pain_score", 3), ("pain_trend", "better"))
                 if q in version.questions})
    rows = [{"case_id": "chest", "age": 58, "duration_weeks": 0.5, "trauma": "none",
             **dict(calm, chest_pain=True)},
            {"case_id": "fall", "age": 40, "duration_weeks": 0.5, "trauma": "major", **calm},
            {"case_id": "calm", "age": 35, "duration_weeks": 1, "trauma": "none", "onset": "gradual",
             **calm},
            {"case_id": "calm2", "age": 30, "duration_weeks": 2, "trauma": "none", "onset": "gradual",
             **calm}]
    told = [r["urgency"] for r in version.batch(rows, "hand")]
    assert told == ["emergency", "emergency", "self_care", "self_care"]
    f = specificity.figures(["emergency", "emergency", "self_care", "urgent"], told)
    assert f["urgent_or_emergency"] == pytest.approx(0.5)
    assert f["emergencies_met"] == pytest.approx(1.0)
    assert f["same_day_needs_met"] == pytest.approx(2 / 3)
    assert f["self_care_told_self_care"] == pytest.approx(1.0)


def test_version_3_answers_fold_onto_the_version_2_ids_they_replaced():
    """Run on code without the version-3 questions, a split question reads as its old compound
    (contract section 1: an old yes counts as yes to every part, so any part's yes is the old yes)."""
    old = specificity.Version.__new__(specificity.Version)
    old.questions = {q: {} for q in ("age", "bladder_bowel_change", "headache_stiff_neck",
                                     "urinary_symptoms", "fever")}
    old.accepted = set(old.questions)  # that code had no `replaced:` ids
    folded, lost = old.fold({"age": 40, "bladder_change": False, "bowel_control": True,
                             "severe_headache": False, "neck_stiff_fever": False,
                             "rash_not_fading": False, "fever": True, "side_pain": True})
    assert folded == {"age": 40, "bladder_bowel_change": True, "headache_stiff_neck": False,
                      "fever": True}
    assert "side_pain" in lost


@pytest.mark.parametrize("rate", ["no_such_rate=0.1", "side_pain=2", "side_pain=lots"])
def test_a_bad_rate_is_a_usage_error(rate, capsys):
    with pytest.raises(SystemExit) as stopped:
        specificity.main(["--size", "10", "--rate", rate])
    assert stopped.value.code == 2
    assert "--rate" in capsys.readouterr().err
