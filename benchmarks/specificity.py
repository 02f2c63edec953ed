"""How much same-day and emergency care the policy asks for: contract section 3, "Specificity".

    python benchmarks/specificity.py                          # 20,000 people, v2 (097f70d) and v3 (this checkout)
    python benchmarks/specificity.py --size 5000 --scenario central
    python benchmarks/specificity.py --v3-ref policy --json results.json
    python benchmarks/specificity.py --burden                 # also count the questions asked

A synthetic primary-care back-pain population is drawn from the case mix and the rates in
benchmarks/population.yaml (every rate there names its source or says it is an assumption). The
case mix is allocated, not sampled: each condition gets its share of --size people (at least one, so
a rare emergency is never missing), in random order. Each
person is drawn once as a latent person (condition, age, sex, duration, onset, injury, the signs
they truly have) and then answers twice: in the version-2 words of the questionnaire (version-2
question ids) and in the version-3 words (contract section 1; a question asked only when it applies
is left out when it does not). A version-2 question that version 3 narrowed or split has more
"yes" answers from people without the condition: an ache in both buttocks answered `both_legs`,
feeling generally unwell answered `fever`, a removed skin cancer answered `cancer_history`.

Each population runs through the real `triage batch` of that version's code (a git ref unpacked
outside the checkout with `git archive`, its own PYTHONPATH, as bench_instructions.py does), for
the low, central and high scenarios of the answer rates. The report gives the four figures of the
contract, per version and scenario:
  * urgent+emergency: share of everyone sent to `urgent` or `emergency` (target at most 15%);
  * same-day needs met: share of people who need same-day or emergency care who get
    `urgent` or `emergency` (target at least 95%);
  * emergencies met: share of people who need emergency care who get `emergency` (target 100%);
  * self-care told self-care: share of people who need only self-care who are told `self_care`;
and, for the central scenario, which rules and which questions account for the urgent+emergency
share, in percentage points of the whole population:
  * a rule's share: each person sent to urgent or emergency is split evenly among the rules in
    their reasons that conclude that urgency; "alone" counts the people for whom it is the only one;
  * a question's share: each person sent to urgent or emergency is re-assessed with that one
    warning-sign answer changed to its reassuring answer (or, for "(unanswered)", every unanswered
    warning sign answered no); the share is the people who then fall below urgent. "of which not
    needed" counts only people whose need is soon or self-care.

When the version-3 code does not yet define a version-3 question (a policy branch half done), the
split questions are folded back onto the version-2 ids they replace (yes to any part is yes) and
the others are left out; the report says so.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
POPULATION = HERE / "population.yaml"
V2_REF = "097f70d"
SCENARIOS = ("low", "central", "high")
URGENCIES = ("self_care", "soon", "urgent", "emergency")
RANK = {u: n for n, u in enumerate(URGENCIES)}
SAME_DAY = ("urgent", "emergency")

# Warning-sign questions (unanswered means unknown): contract section 1.
WARNING_V2 = ("chest_pain", "headache_stiff_neck", "pregnant", "pregnancy_symptoms",
              "saddle_numbness", "bladder_bowel_change", "sexual_dysfunction", "abdominal_pain",
              "urinary_symptoms", "fever", "weight_loss", "cancer_history", "night_pain",
              "thoracic_pain", "back_lump", "osteoporosis", "long_term_steroids",
              "immunosuppressed", "iv_drug_use", "leg_weakness", "both_legs")
WARNING_V3 = tuple(q for q in WARNING_V2 if q not in (
    "headache_stiff_neck", "bladder_bowel_change", "urinary_symptoms")) + (
    "severe_headache", "neck_stiff_fever", "rash_not_fading", "possibly_pregnant",
    "recently_given_birth", "known_aneurysm", "bladder_change", "bowel_control",
    "walking_difficulty", "heel_toe_walk", "feel_very_unwell", "urine_burning", "blood_in_urine",
    "side_pain", "worse_on_straining", "severe_uncontrolled_pain")
# Version-3 ids that replace a version-2 id (contract section 1), for folding back onto old code.
REPLACED = {"severe_headache": "headache_stiff_neck", "neck_stiff_fever": "headache_stiff_neck",
            "rash_not_fading": "headache_stiff_neck", "bladder_change": "bladder_bowel_change",
            "bowel_control": "bladder_bowel_change", "urine_burning": "urinary_symptoms",
            "blood_in_urine": "urinary_symptoms"}
# Answers that are not warning signs but that rules combine with them: the milder answer tried in
# the per-question breakdown (None: nothing milder to try).
MILDER = {
    "onset": lambda v: "gradual" if v == "sudden" else None,
    "trauma": lambda v: "minor" if v == "major" else None,
    "pain_score": lambda v: 6 if isinstance(v, int) and v >= 7 else None,
    "pain_trend": lambda v: "same" if v == "worse" else None,
    "stops_daily_life": lambda v: False if v is True else None,
}
# Version-2 questions and the version-3 questions that narrowed or replaced them.
WORD_PAIRS = (("fever", ("fever", "feel_very_unwell")), ("both_legs", ("both_legs",)),
              ("cancer_history", ("cancer_history",)),
              ("headache_stiff_neck", ("severe_headache", "neck_stiff_fever", "rash_not_fading")),
              ("bladder_bowel_change", ("bladder_change", "bowel_control")),
              ("urinary_symptoms", ("urine_burning", "blood_in_urine")),
              ("long_term_steroids", ("long_term_steroids",)), ("iv_drug_use", ("iv_drug_use",)),
              ("back_lump", ("back_lump",)))
# The reassuring answer of each warning-sign question (for the per-question re-assessment).
REASSURING = {"leg_weakness": "none", "heel_toe_walk": "can"}


def load_population(path: Path = POPULATION) -> dict:
    with open(path, encoding="utf-8") as f:
        population = yaml.safe_load(f)
    total = sum(c["share"] for c in population["conditions"].values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise SystemExit(f"{path}: condition shares add up to {total}, not 1")
    for cid, c in population["conditions"].items():
        group = population["groups"][c["group"]]  # a KeyError names a missing group
        del group
        for sign in c.get("requires_any", ()):
            if sign not in c.get("signs", {}):
                raise SystemExit(f"{path}: {cid}: requires_any names {sign}, not in its signs")
    return population


def rates_for(population: dict, scenario: str) -> dict:
    return {name: entry[scenario] for name, entry in population["answers"].items()}


def _by_age(table: dict, age: int) -> float:
    share = 0.0
    for start, value in sorted(table.items()):
        if age >= start:
            share = value
    return share


# ---------------------------------------------------------------------------------------------
# The latent person

def allocate(population: dict, size: int) -> list[str]:
    """The condition of each of `size` people, in order: each condition gets its share of the size
    (largest remainder), and at least one person when size allows, so that a rare emergency is
    never missing from the population; the commonest condition gives up the extra places."""
    conditions = population["conditions"]
    exact = {cid: c["share"] * size for cid, c in conditions.items()}
    counts = {cid: int(x) for cid, x in exact.items()}
    for cid in sorted(exact, key=lambda c: -(exact[c] - counts[c]))[:size - sum(counts.values())]:
        counts[cid] += 1
    if size >= 2 * len(conditions):
        commonest = max(counts, key=counts.get)
        for cid in counts:
            if counts[cid] == 0:
                counts[cid], counts[commonest] = 1, counts[commonest] - 1
    return [cid for cid in conditions for _ in range(counts[cid])]


def draw_person(population: dict, rng: random.Random, number: int, cid: str) -> dict:
    """One person with condition `cid`: demographics, the condition's true signs, and the uniform
    draws that decide their answers in any scenario (so that the scenarios differ only in the
    rates)."""
    conditions = population["conditions"]
    condition = conditions[cid]
    demo = population["demographics"]

    if "age" in condition:
        low, high = condition["age"]
        age = rng.randint(low, high)
    else:
        a = demo["age"]
        age = int(round(min(max(rng.gauss(a["mean"], a["sd"]), a["min"]), a["max"])))
    female = rng.random() < condition.get("female", demo["female"]["share"])
    kind = condition.get("duration")
    if kind is None:
        d = demo["duration"]
        x = rng.random()
        kind = "acute" if x < d["acute"] else "subacute" if x < d["acute"] + d["subacute"] else "chronic"
    duration = {"acute_days": lambda: rng.choice([0.5, 1, 2]),
                "acute_weeks": lambda: rng.choice([1, 2, 3, 4, 5]),
                "acute": lambda: rng.choice([0.5, 1, 1, 2, 2, 3, 4, 5]),
                "subacute": lambda: rng.randint(6, 11),
                "chronic": lambda: rng.choice([12, 16, 26, 52, 104, 260])}[kind]()

    signs = {}
    for sign, chance in condition.get("signs", {}).items():
        signs[sign] = rng.random() < chance
    required = condition.get("requires_any")
    if required and not any(signs[s] for s in required):
        signs[rng.choice(required)] = True

    pregnant = signs.get("pregnant", False) or (
        female and demo["pregnant"]["ages"][0] <= age <= demo["pregnant"]["ages"][1]
        and rng.random() < demo["pregnant"]["share"])
    birth_ages = demo["recently_given_birth"]["ages"]
    person = {
        "number": number, "condition": cid, "age": age, "sex": "female" if female else "male",
        "duration_weeks": duration, "signs": signs, "pregnant": pregnant,
        "recently_given_birth": (female and not pregnant and birth_ages[0] <= age <= birth_ages[1]
                                 and rng.random() < demo["recently_given_birth"]["share"]),
        "cancer": rng.random() < _by_age(demo["cancer_history"]["by_age"], age),
        "skin_cancer_only": rng.random() < _by_age(demo["skin_cancer_only"]["by_age"], age),
        "osteoporosis": rng.random() < _by_age(
            demo["osteoporosis_women" if female else "osteoporosis_men"]["by_age"], age),
        "diabetes": rng.random() < _by_age(demo["diabetes"]["by_age"], age),
        "sudden": rng.random() < demo["onset_sudden"]["share"],
        "trauma_draw": rng.random(),
        # one uniform per answer rate, and one per question and version for leaving it blank
        "u": {name: rng.random() for name in population["answers"]},
        "u_score": rng.random(), "u_trend": rng.random(),
        "blank": {v: {q: rng.random() for q in (WARNING_V2 if v == 2 else WARNING_V3)}
                  for v in (2, 3)},
        "u_other": [rng.random() for _ in range(12)],
    }
    return person


def state(person: dict, population: dict, rates: dict) -> dict:
    """What the person has and would say yes to in the version-3 words (a sign the condition names
    is decided by the condition; any other by the false-positive rate), and the version-2 extras."""
    signs, u = person["signs"], person["u"]
    demo = population["demographics"]

    def has(name: str, background=None) -> bool:
        if name in signs:
            return signs[name]
        if background is not None:
            return background
        return u[name] < rates[name]

    s = {name: has(name) for name in (
        "chest_pain", "severe_headache", "neck_stiff_fever", "rash_not_fading", "saddle_numbness",
        "bladder_change", "bowel_control", "sexual_dysfunction", "abdominal_pain", "urine_burning",
        "blood_in_urine", "side_pain", "fever", "feel_very_unwell", "weight_loss", "night_pain",
        "thoracic_pain", "back_lump", "long_term_steroids", "immunosuppressed", "iv_drug_use",
        "walking_difficulty", "worse_on_straining", "severe_uncontrolled_pain", "stops_daily_life",
        "leg_numbness", "morning_stiffness")}
    for name in ("headache_stiff_neck_v2_extra", "bladder_bowel_v2_extra", "fever_v2_extra",
                 "back_lump_v2_extra", "long_term_steroids_v2_extra", "iv_drug_use_v2_extra",
                 "both_legs_v2_extra"):
        s[name] = u[name] < rates[name]
    age, female = person["age"], person["sex"] == "female"
    s["pregnant"] = person["pregnant"]
    s["pregnancy_symptoms"] = has("pregnancy_symptoms", person["pregnant"] and (
        u["pregnancy_symptoms"] < rates["pregnancy_symptoms"]))
    s["possibly_pregnant"] = (female and not person["pregnant"] and 12 <= age <= 55
                              and u["possibly_pregnant"] < rates["possibly_pregnant"])
    s["recently_given_birth"] = person["recently_given_birth"]
    s["known_aneurysm"] = has("known_aneurysm", age >= 50 and u["known_aneurysm"] < rates["known_aneurysm"])
    s["cancer"] = has("cancer", person["cancer"])
    s["skin_cancer_only"] = person["skin_cancer_only"] and not s["cancer"]
    s["skin_read_as_cancer"] = u["cancer_skin_read_as_cancer"] < rates["cancer_skin_read_as_cancer"]
    s["osteoporosis"] = has("osteoporosis", person["osteoporosis"])
    s["diabetes"] = has("diabetes", person["diabetes"])
    s["sudden"] = has("sudden", person["sudden"])
    trauma = demo["trauma"]
    if "trauma_major" in signs or "trauma_minor" in signs:
        s["trauma"] = ("major" if signs.get("trauma_major") else
                       "minor" if signs.get("trauma_minor") else "none")
    else:
        x = person["trauma_draw"]
        s["trauma"] = "major" if x < trauma["major"] else "minor" if x < trauma["major"] + trauma["minor"] else "none"
    if has("leg_below_knee"):
        s["leg_pain"] = "below_knee"
    elif u["leg_above_knee"] < rates["leg_above_knee"]:
        s["leg_pain"] = "above_knee"
    else:
        s["leg_pain"] = "none"
    s["leg_weakness"] = ("worsening" if has("weakness_worsening") else
                         "stable" if has("weakness_stable") else "none")
    s["heel_toe_cannot"] = has("heel_toe_cannot")
    s["both_legs"] = has("both_legs")
    severe = has("pain_severe")
    s["pain_score"] = 7 + int(person["u_score"] * 4) if severe else int(person["u_score"] * 7)
    if has("trend_worse"):
        s["pain_trend"] = "worse"
    else:
        s["pain_trend"] = "better" if person["u_trend"] < rates["trend_better"] else "same"
    o = person["u_other"]
    spa = {name: has(name, o[n] < rates["inflammatory_item"]) for n, name in enumerate(
        ("buttock_pain", "night_waking_late", "nsaid_helps", "joint_or_heel"))}
    s.update(spa)
    s["better_with_exercise"] = has("better_with_exercise", o[4] < 0.3)
    s["family_spa"] = has("family_spa", o[5] < 0.02)
    s["psoriasis"] = has("psoriasis", o[6] < 0.03)
    s["sitting_hours"] = int(o[7] * 11)
    s["posture"] = [o[8] < 0.25, o[9] < 0.25, o[10] < 0.25, o[11] < 0.25]
    s["fear_of_movement"] = o[8] * o[9] < 0.08
    s["low_mood"] = o[10] * o[11] < 0.08
    return s


def need_of(person: dict, population: dict, s: dict) -> str:
    """The care the person needs (population.yaml; `by_course` from the guideline course)."""
    cid = person["condition"]
    need = population["conditions"][cid]["need"]
    weeks, age = person["duration_weeks"], person["age"]
    if need == "by_course" and cid == "sciatica":
        if s["both_legs"]:
            need = "emergency"  # bilateral radiculopathy: the suspected cauda equina pathway
        elif s["leg_weakness"] == "worsening" or (s["leg_weakness"] == "stable" and s["heel_toe_cannot"]):
            need = "urgent"
        elif (s["pain_score"] >= 7 or s["stops_daily_life"] or s["pain_trend"] == "worse"
              or weeks >= 4 or s["leg_weakness"] == "stable"):
            need = "soon"
        else:
            need = "self_care"
    elif need == "by_course":
        need = ("soon" if weeks >= 12 or (weeks >= 6 and s["pain_trend"] != "better")
                or (age >= 60 and weeks >= 4) else "self_care")
    if person["pregnant"] and RANK[need] < RANK["soon"]:
        need = "soon"  # a midwife or doctor for back pain in pregnancy
    return need


# ---------------------------------------------------------------------------------------------
# Answers in the two wordings

def _common(person: dict, s: dict) -> dict:
    answers = {"age": person["age"], "sex": person["sex"], "duration_weeks": person["duration_weeks"],
               "onset": "sudden" if s["sudden"] else "gradual", "trauma": s["trauma"],
               "chest_pain": s["chest_pain"], "saddle_numbness": s["saddle_numbness"],
               "sexual_dysfunction": s["sexual_dysfunction"], "abdominal_pain": s["abdominal_pain"],
               "weight_loss": s["weight_loss"], "night_pain": s["night_pain"],
               "thoracic_pain": s["thoracic_pain"], "osteoporosis": s["osteoporosis"],
               "immunosuppressed": s["immunosuppressed"], "leg_pain": s["leg_pain"],
               "leg_numbness": s["leg_numbness"], "leg_weakness": s["leg_weakness"],
               "morning_stiffness": s["morning_stiffness"], "sitting_hours": s["sitting_hours"],
               "fear_of_movement": s["fear_of_movement"], "low_mood": s["low_mood"]}
    for qid, value in zip(("pelvis_tips_forward", "exaggerated_arch", "tight_hip_flexors",
                           "weak_glutes"), s["posture"]):
        answers[qid] = value
    if person["sex"] != "male":
        answers["pregnant"] = s["pregnant"]
    return answers


def _blank(person: dict, version: int, answers: dict, rate: float) -> dict:
    """Leave each warning-sign question unanswered with chance `rate`; a follow-up of a question
    left unanswered is not asked either (the questionnaire's skip logic)."""
    blank = person["blank"][version]
    out = {q: v for q, v in answers.items() if not (q in blank and blank[q] < rate)}
    if not (out.get("pregnant") or out.get("possibly_pregnant")):
        out.pop("pregnancy_symptoms", None)
    if out.get("leg_weakness") != "stable":
        out.pop("heel_toe_walk", None)
    return out


def answers_v2(person: dict, s: dict, rates: dict) -> dict:
    """The answers to the version-2 questionnaire (version-2 ids and words)."""
    a = _common(person, s)
    a["headache_stiff_neck"] = (s["severe_headache"] or s["neck_stiff_fever"] or s["rash_not_fading"]
                                or s["headache_stiff_neck_v2_extra"])
    if a.get("pregnant"):
        a["pregnancy_symptoms"] = s["pregnancy_symptoms"]
    a["bladder_bowel_change"] = s["bladder_change"] or s["bowel_control"] or s["bladder_bowel_v2_extra"]
    a["urinary_symptoms"] = s["urine_burning"] or s["blood_in_urine"]
    a["fever"] = s["fever"] or s["feel_very_unwell"] or s["fever_v2_extra"]
    a["cancer_history"] = s["cancer"] or s["skin_cancer_only"]
    a["back_lump"] = s["back_lump"] or s["back_lump_v2_extra"]
    a["long_term_steroids"] = s["long_term_steroids"] or s["long_term_steroids_v2_extra"]
    a["iv_drug_use"] = s["iv_drug_use"] or s["iv_drug_use_v2_extra"]
    if s["leg_pain"] != "none" or s["leg_numbness"] or s["leg_weakness"] != "none":
        a["both_legs"] = s["both_legs"] or s["both_legs_v2_extra"]
    if s["morning_stiffness"]:
        a["better_with_exercise"] = s["better_with_exercise"]
    return _blank(person, 2, a, rates["unanswered"])


def answers_v3(person: dict, s: dict, rates: dict) -> dict:
    """The answers to the version-3 questionnaire (contract section 1: its ids, words and
    asked-when conditions; a question that does not apply is left out)."""
    a = _common(person, s)
    age, weeks, male = person["age"], person["duration_weeks"], person["sex"] == "male"
    a.update({q: s[q] for q in (
        "severe_headache", "neck_stiff_fever", "rash_not_fading", "bladder_change", "bowel_control",
        "walking_difficulty", "feel_very_unwell", "diabetes", "urine_burning", "blood_in_urine",
        "side_pain", "worse_on_straining", "severe_uncontrolled_pain", "pain_score",
        "stops_daily_life", "fever", "back_lump", "long_term_steroids", "iv_drug_use",
        "better_with_exercise")})
    a["cancer_history"] = s["cancer"] or (s["skin_cancer_only"] and s["skin_read_as_cancer"])
    if not male and 12 <= age <= 55:
        if not s["pregnant"]:
            a["possibly_pregnant"] = s["possibly_pregnant"]
        a["recently_given_birth"] = s["recently_given_birth"]
    if a.get("pregnant") or a.get("possibly_pregnant"):
        a["pregnancy_symptoms"] = s["pregnancy_symptoms"]
    if age >= 50:
        a["known_aneurysm"] = s["known_aneurysm"]
    if s["leg_weakness"] == "stable":
        a["heel_toe_walk"] = "cannot" if s["heel_toe_cannot"] else "can"
    if s["leg_pain"] == "below_knee" or s["leg_numbness"] or s["leg_weakness"] != "none":
        a["both_legs"] = s["both_legs"]
    if weeks >= 1:
        a["pain_trend"] = s["pain_trend"]
    if weeks >= 12:
        a.update({"buttock_pain": s["buttock_pain"], "night_waking_late": s["night_waking_late"],
                  "nsaid_response": "helps" if s["nsaid_helps"] else "not_tried",
                  "family_spa": s["family_spa"], "psoriasis": s["psoriasis"],
                  "joint_or_heel_pain": s["joint_or_heel"]})
    return _blank(person, 3, a, rates["unanswered"])


def generate(population: dict, size: int, seed: int, scenario: str):
    """[(person, need, v2 answers, v3 answers)] for one scenario; the same seed gives the same
    latent people in every scenario."""
    rng = random.Random(seed)
    rates = rates_for(population, scenario)
    order = allocate(population, size)
    rng.shuffle(order)
    rows = []
    for number, cid in enumerate(order):
        person = draw_person(population, rng, number, cid)
        s = state(person, population, rates)
        rows.append((person, need_of(person, population, s), answers_v2(person, s, rates),
                     answers_v3(person, s, rates)))
    return rows


# ---------------------------------------------------------------------------------------------
# Running a version of the code

class Version:
    """A version of the code: a git ref unpacked into a scratch folder (or this checkout)."""

    def __init__(self, label: str, ref: str | None, scratch: Path):
        self.label, self.ref = label, ref
        if ref is None:
            self.tree = CHECKOUT
        else:
            self.tree = scratch / f"tree-{label}"
            self.tree.mkdir()
            commit = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "--short",
                                     f"{ref}^{{commit}}"], capture_output=True, text=True, check=False)
            if commit.returncode == 0 and commit.stdout.strip() not in ref:
                self.ref = f"{ref} {commit.stdout.strip()}"  # the commit measured, for the record
            archive = subprocess.run(["git", "-C", str(CHECKOUT), "archive", commit.stdout.strip()
                                      if commit.returncode == 0 else ref, "triage", "rules",
                                      "reports"], capture_output=True, check=False)
            if archive.returncode != 0:
                raise ValueError(f"git ref {ref!r}: {archive.stderr.decode().strip()}")
            tar = scratch / f"{label}.tar"
            tar.write_bytes(archive.stdout)
            with tarfile.open(tar) as t:
                if hasattr(tarfile, "data_filter"):
                    t.extractall(self.tree, filter="data")
                else:
                    t.extractall(self.tree)
        self.work = scratch / f"work-{label}"
        self.work.mkdir()
        with open(self.tree / "rules" / "questionnaire.yaml", encoding="utf-8") as f:
            questionnaire = yaml.safe_load(f)
        self.questions = {q["id"]: q for section in questionnaire["sections"]
                          for q in section["questions"]}
        # ids of earlier versions this code still reads (its questionnaire's `replaced:`), e.g.
        # fear_of_movement and low_mood, read as the risk screen's fear_of_harm and mood_low
        self.accepted = set(self.questions) | {entry["id"] for entry in
                                               questionnaire.get("replaced") or []}
        self.rule_urgency = {}
        for path in sorted((self.tree / "rules").glob("*.yaml")):
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
            for rule in (data or {}).get("rules", []) if isinstance(data, dict) else []:
                then = rule.get("then") or {}
                if isinstance(then, dict) and then.get("urgency") in RANK:
                    self.rule_urgency[rule["id"]] = then["urgency"]

    def fold(self, answers: dict) -> tuple[dict, set]:
        """Answers this code's questionnaire accepts: a version-3 id it does not define is folded
        onto the version-2 id it replaced (yes to any part is yes), or left out."""
        out, dropped = {}, set()
        for qid, value in answers.items():
            if qid in self.accepted:
                out[qid] = value
            elif qid in REPLACED and REPLACED[qid] in self.questions:
                old = REPLACED[qid]
                out[old] = bool(out.get(old)) or bool(value)
                dropped.add(qid + "->" + old)
            else:
                dropped.add(qid)
        return out, dropped

    def batch(self, rows: list[dict], name: str) -> list[dict]:
        """Run `triage batch` of this version on rows (each with a case_id); its output rows."""
        cases, out = self.work / f"{name}.jsonl", self.work / f"{name}.out.jsonl"
        with open(cases, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        env = dict(os.environ, PYTHONPATH=str(self.tree), TRIAGE_CACHE_DIR=str(self.work / "cache"))
        program = ("import sys; sys.argv = ['triage', 'batch', sys.argv[1], '-o', sys.argv[2]]; "
                   "from triage.cli import entry; entry()")
        done = subprocess.run([sys.executable, "-c", program, str(cases), str(out)], env=env,
                              cwd=self.work, capture_output=True, text=True, check=False)
        if done.returncode not in (0,) or not out.exists():
            raise SystemExit(f"triage batch ({self.label}) failed ({done.returncode}):\n"
                             f"{done.stderr[-2000:]}")
        with open(out, encoding="utf-8") as f:
            return [json.loads(line) for line in f]


# ---------------------------------------------------------------------------------------------
# The figures

def figures(needs: list[str], urgencies: list[str]) -> dict:
    """The four figures of contract section 3 "Specificity" (shares from 0 to 1; None when no one
    has that need)."""
    if len(needs) != len(urgencies):
        raise ValueError("needs and urgencies differ in length")

    def share(selected: list[bool], among: list[bool]):
        n = sum(among)
        return None if n == 0 else sum(s and a for s, a in zip(selected, among)) / n

    same_day = [u in SAME_DAY for u in urgencies]
    return {
        "people": len(needs),
        "urgent_or_emergency": share(same_day, [True] * len(needs)),
        "same_day_needs_met": share(same_day, [n in SAME_DAY for n in needs]),
        "emergencies_met": share([u == "emergency" for u in urgencies], [n == "emergency" for n in needs]),
        "self_care_told_self_care": share([u == "self_care" for u in urgencies],
                                          [n == "self_care" for n in needs]),
        "same_day_needed": share([n in SAME_DAY for n in needs], [True] * len(needs)),
    }


def by_condition(data, urgencies: list[str]) -> dict:
    """condition -> need -> urgency -> number of people (who got what, per condition)."""
    table: dict = defaultdict(lambda: defaultdict(Counter))
    for (person, need, _, _), urgency in zip(data, urgencies):
        table[person["condition"]][need][urgency] += 1
    return {c: {n: dict(u) for n, u in needs.items()} for c, needs in table.items()}


def rule_breakdown(results: list[dict], rule_urgency: dict, needs: list[str]) -> dict:
    """Percentage points of the population sent to urgent/emergency, per rule (split evenly among
    the rules that conclude the person's urgency), alone, and of which not needed."""
    size = len(results)
    split, alone, unneeded = Counter(), Counter(), Counter()
    for result, need in zip(results, needs):
        urgency = result.get("urgency")
        if urgency not in SAME_DAY:
            continue
        rules = [r["id"] for r in result["reasons"] if rule_urgency.get(r["id"]) == urgency] or ["(other)"]
        for rule in rules:
            split[rule] += 1 / len(rules)
            if need not in SAME_DAY:
                unneeded[rule] += 1 / len(rules)
        if len(rules) == 1:
            alone[rules[0]] += 1
    return {rule: {"pp": 100 * split[rule] / size, "alone_pp": 100 * alone[rule] / size,
                   "not_needed_pp": 100 * unneeded[rule] / size}
            for rule in sorted(split, key=lambda r: -split[r])}


def _reassuring(version: Version, qid: str):
    if qid in REASSURING:
        return REASSURING[qid]
    q = version.questions.get(qid, {})
    if q.get("type") == "choice":
        alarming = q.get("alarming") or []
        for choice in q.get("choices", []):
            if choice["value"] not in alarming:
                return choice["value"]
    return False


def question_breakdown(version: Version, rows: list[dict], results: list[dict], needs: list[str],
                       name: str) -> dict:
    """Per warning-sign question: percentage points of the population that leave urgent/emergency
    when that one answer is changed to its reassuring answer (and '(unanswered)': every unanswered
    warning sign answered no)."""
    warning = [q for q, spec in version.questions.items() if spec.get("red_flag")]
    trial, meta = [], []
    for row, result, need in zip(rows, results, needs):
        if result.get("urgency") not in SAME_DAY:
            continue
        for qid in warning + [q for q in MILDER if q in version.questions]:
            value = row.get(qid)
            if qid in MILDER:
                milder = MILDER[qid](value)
                if milder is None:
                    continue
            elif value is None or value == _reassuring(version, qid):
                continue
            elif version.questions[qid].get("type") == "bool" and value is not True:
                continue
            else:
                milder = _reassuring(version, qid)
            changed = dict(row, **{qid: milder})
            changed["case_id"] = f"{row['case_id']}/{qid}"
            trial.append(changed)
            meta.append((qid, need))
        missing = [q for q in warning if q not in row]
        if missing:
            changed = dict(row, **{q: _reassuring(version, q) for q in missing})
            changed["case_id"] = f"{row['case_id']}/(unanswered)"
            trial.append(changed)
            meta.append(("(unanswered)", need))
    if not trial:
        return {}
    out = version.batch(trial, name)
    size = len(rows)
    drop, unneeded = Counter(), Counter()
    for (qid, need), result in zip(meta, out):
        if result.get("urgency") in ("self_care", "soon"):
            drop[qid] += 1
            if need not in SAME_DAY:
                unneeded[qid] += 1
    return {q: {"pp": 100 * drop[q] / size, "not_needed_pp": 100 * unneeded[q] / size}
            for q in sorted(drop, key=lambda q: -drop[q])}


def run_version(version: Version, data, which: int, scenario: str, breakdown: bool):
    rows, dropped = [], set()
    for person, need, a2, a3 in data:
        answers, lost = version.fold(a3 if which == 3 else a2)
        dropped |= lost
        rows.append({"case_id": f"p{person['number']}", **answers})
    results = version.batch(rows, f"v{which}-{scenario}")
    answered = [a3 if which == 3 else a2 for _, _, a2, a3 in data]
    not_same_day = [a for a, (_, need, _, _) in zip(answered, data) if need not in SAME_DAY]
    yes = Counter(q for a in not_same_day for q, v in a.items() if v is True)
    invalid = [r for r in results if "error" in r]
    needs = [need for _, need, _, _ in data]
    urgencies = [r.get("urgency", "invalid") for r in results]
    label = version.label
    if dropped:  # the code lacks version-3 questions: this is the version-3 words on older rules
        label += " words, folded"
    report = {"version": label, "ref": version.ref or "this checkout", "scenario": scenario,
              "figures": figures(needs, urgencies), "invalid_rows": len(invalid),
              "invalid_examples": [r["error"] for r in invalid[:3]],
              "urgency_mix": {u: urgencies.count(u) / len(urgencies) for u in URGENCIES},
              "folded_or_left_out": sorted(dropped),
              "by_condition": by_condition(data, urgencies),
              "yes_without_same_day_need": {q: n / max(len(not_same_day), 1)
                                            for q, n in sorted(yes.items())}}
    if breakdown:
        report["rules"] = rule_breakdown(results, version.rule_urgency, needs)
        report["questions"] = question_breakdown(version, rows, results, needs,
                                                 f"v{which}-{scenario}-questions")
    return report


# ---------------------------------------------------------------------------------------------
# The patient's burden: questions asked on three typical journeys

JOURNEYS = {
    "desk worker, 35, two weeks, no warning signs": dict(
        age=35, sex="female", duration_weeks=2, onset="gradual", trauma="none", leg_pain="none",
        leg_numbness=False, leg_weakness="none", morning_stiffness=False, pregnant=False,
        possibly_pregnant=False, pain_trend="same"),
    "sciatica, 45, three weeks, pain below the knee": dict(
        age=45, sex="male", duration_weeks=3, onset="sudden", trauma="minor", leg_pain="below_knee",
        leg_numbness=True, leg_weakness="none", both_legs=False, morning_stiffness=False,
        pain_trend="same"),
    "emergency: numbness around the genitals, 50": dict(
        age=50, sex="male", duration_weeks=0.5, onset="sudden", trauma="none", leg_pain="below_knee",
        leg_numbness=True, leg_weakness="stable", heel_toe_walk="can", both_legs=True,
        saddle_numbness=True, morning_stiffness=False),
}
BURDEN_PROGRAM = r"""
import json, sys
from pathlib import Path
from triage.questionnaire import load_questionnaire
q = load_questionnaire(Path(sys.argv[1]))
journeys = json.loads(sys.argv[2])
out = {}
for name, given in journeys.items():
    answers = {}
    asked = 0
    for qid in q.questions:
        if qid == "notes" or q.is_skipped(qid, answers):
            continue
        asked += 1
        answers[qid] = given.get(qid, False if q.questions[qid].type == "bool" else None)
        if answers[qid] is None:
            del answers[qid]
    out[name] = asked
print(json.dumps(out))
"""


def burden(version: Version) -> dict:
    env = dict(os.environ, PYTHONPATH=str(version.tree))
    done = subprocess.run([sys.executable, "-c", BURDEN_PROGRAM,
                           str(version.tree / "rules" / "questionnaire.yaml"), json.dumps(JOURNEYS)],
                          env=env, cwd=version.work, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout)


# ---------------------------------------------------------------------------------------------
# Output

def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def markdown(reports: list[dict], meta: dict, burdens: dict | None) -> str:
    lines = [f"Specificity on {meta['size']:,} synthetic primary-care people (seed {meta['seed']}, "
             f"{meta['date']}); need: same-day {pct(reports[0]['figures']['same_day_needed'])} "
             f"of people." + (f" Rates set: {', '.join(meta['rates_set'])}." if meta["rates_set"]
                              else ""), "",
             "| version | scenario | urgent + emergency (target <= 15%) | same-day needs met (>= 95%) "
             "| emergencies sent to emergency (100%) | self-care needs told self-care | invalid rows |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in reports:
        f = r["figures"]
        lines.append(f"| {r['version']} ({r['ref']}) | {r['scenario']} | {pct(f['urgent_or_emergency'])} "
                     f"| {pct(f['same_day_needs_met'])} | {pct(f['emergencies_met'])} "
                     f"| {pct(f['self_care_told_self_care'])} | {r['invalid_rows']} |")
    for r in reports:
        if r.get("folded_or_left_out"):
            lines += ["", f"{r['version']} ({r['ref']}): this code does not define every "
                      f"version-3 question, so its rules read the version-3 answers folded onto "
                      f"the version-2 ids they replace; left out or folded: "
                      + ", ".join(r["folded_or_left_out"])]
            break
    words = [r for r in reports if r["scenario"] == "central" and r["version"].startswith("v")]
    if len(words) == 2:
        old, new = (r["yes_without_same_day_need"] for r in words)
        lines += ["", "The words, central scenario: share answering yes among people who do not need "
                  "same-day care", "", "| version 2 question | yes | version 3 question(s) | yes |",
                  "|---|---:|---|---:|"]
        for q2, q3s in WORD_PAIRS:
            lines.append(f"| {q2} | {pct(old.get(q2, 0))} | "
                         + ", ".join(q3s) + " | " + ", ".join(pct(new.get(q, 0)) for q in q3s) + " |")
    for r in reports:
        missed = []
        for cid, needs in r["by_condition"].items():
            for need, got in needs.items():
                if need not in SAME_DAY:
                    continue
                short = sum(n for u, n in got.items() if RANK.get(u, -1) < RANK[need])
                if short:
                    missed.append(f"{cid} ({need}): {short} of {sum(got.values())}")
        if missed:
            lines += ["", f"{r['version']}, {r['scenario']}: same-day needs given less than they "
                      "need: " + "; ".join(sorted(missed))]
    for r in reports:
        if "rules" not in r:
            continue
        lines += ["", f"{r['version']}, {r['scenario']} scenario: where the urgent + emergency share "
                  f"comes from (percentage points of everyone)", "",
                  "| rule | pp | pp alone | pp not needed |", "|---|---:|---:|---:|"]
        for rule, v in list(r["rules"].items())[:meta["top"]]:
            lines.append(f"| {rule} | {v['pp']:.2f} | {v['alone_pp']:.2f} | {v['not_needed_pp']:.2f} |")
        lines += ["", "| answer changed to the milder one | pp that fall below urgent "
                  "| of which not needed |", "|---|---:|---:|"]
        for qid, v in list(r["questions"].items())[:meta["top"]]:
            lines.append(f"| {qid} | {v['pp']:.2f} | {v['not_needed_pp']:.2f} |")
    if burdens:
        names = list(JOURNEYS)
        lines += ["", "Questions asked (skip logic of each version's questionnaire; free-text "
                  "notes not counted)", "",
                  "| version | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for label, counts in burdens.items():
            lines.append(f"| {label} | " + " | ".join(str(counts.get(n, "n/a")) for n in names) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n  python benchmarks/specificity.py\n"
               "  python benchmarks/specificity.py --size 2000 --scenario central\n"
               "  python benchmarks/specificity.py --v3-ref policy --json out.json --burden\n"
               "  python benchmarks/specificity.py --v2-ref 097f70d --v3-ref HEAD\n"
               "  python benchmarks/specificity.py --scenario central --rate walking_difficulty=0.01",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20_000, help="people per scenario (default 20,000)")
    parser.add_argument("--seed", type=int, default=2026,
                        help="the same seed draws the same people (default 2026)")
    parser.add_argument("--scenario", choices=SCENARIOS + ("all",), default="all")
    parser.add_argument("--v2-ref", default=V2_REF, help=f"git ref of version 2 (default {V2_REF})")
    parser.add_argument("--v3-ref", default=None,
                        help="git ref of version 3 (default: this checkout as it is)")
    parser.add_argument("--population", type=Path, default=POPULATION,
                        help="case mix and rates (default benchmarks/population.yaml)")
    parser.add_argument("--no-breakdown", action="store_true",
                        help="skip the per-rule and per-question breakdown (central scenario)")
    parser.add_argument("--top", type=int, default=15, help="rows of each breakdown to print")
    parser.add_argument("--burden", action="store_true",
                        help="also count the questions asked on three typical journeys")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--rate", action="append", default=[], metavar="NAME=VALUE",
                        help="set one answer rate of population.yaml in every scenario, to measure "
                             "a change of words (e.g. --rate walking_difficulty=0.01); repeatable")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    population = load_population(args.population)
    for item in args.rate:
        name, _, value = item.partition("=")
        if name not in population["answers"]:
            parser.error(f"--rate {item}: no answer rate named {name!r} in {args.population}")
        try:
            chance = float(value)
        except ValueError:
            chance = -1.0
        if not 0.0 <= chance <= 1.0:
            parser.error(f"--rate {item}: the value must be a number from 0 to 1")
        population["answers"][name].update({scenario: chance for scenario in SCENARIOS})
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    meta = {"size": args.size, "seed": args.seed, "top": args.top, "rates_set": args.rate,
            "date": datetime.date.today().isoformat()}
    reports, burdens = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        try:
            versions = {2: Version("v2", args.v2_ref, tmp), 3: Version("v3", args.v3_ref, tmp)}
        except ValueError as error:
            parser.error(str(error))
        for scenario in scenarios:
            print(f"[{scenario}] drawing {args.size:,} people...", file=sys.stderr, flush=True)
            data = generate(population, args.size, args.seed, scenario)
            for which, version in versions.items():
                breakdown = scenario == "central" and not args.no_breakdown
                print(f"[{scenario}] version {which} ({version.ref or 'this checkout'}): triage batch"
                      f"{' and the breakdown' if breakdown else ''}...", file=sys.stderr, flush=True)
                reports.append(run_version(version, data, which, scenario, breakdown))
        if args.burden:
            burdens = {f"{v.label} ({v.ref or 'this checkout'})": burden(v) for v in versions.values()}
    text = markdown(reports, meta, burdens)
    sys.stdout.write(text)
    if args.json:
        tmp_path = args.json.with_name(args.json.name + ".tmp")
        tmp_path.write_text(json.dumps({"meta": meta, "reports": reports, "burden": burdens},
                                       indent=1) + "\n")
        os.replace(tmp_path, args.json)


if __name__ == "__main__":
    main()
