"""The two workloads of the benchmarks: *realistic* (answer frequencies of primary-care back pain,
written down below with their sources) and *uniform* (benchmarks/cases.py: every answer fairly
likely, the worst case for the decision cache).

    from workloads import generate
    cases = generate("realistic", questionnaire, 100_000, seed=2026)

What the realistic frequencies rest on
--------------------------------------
* Serious pathology is rare in people who see primary care with back pain: 11 of 1,172 (0.9%),
  8 of them fractures and no cancer (Henschke et al., "Prevalence of and screening for serious
  spinal pathology in patients presenting to primary care settings with acute low back pain",
  Arthritis Rheum 2009;60(10):3072-80). So the warning-sign questions are answered "no" nearly
  always: each alarming answer below is given to 0.3-4% of cases, so that about nine in ten cases
  have none of them. (Henschke found 80% with at least one red flag, but most of those were weak
  flags such as age over 50, which this questionnaire asks as age, not as a warning sign.)
* Age and sex: mean age 43.3, 54.8% men in the Sydney primary-care inception cohort (Henschke et
  al., "Prognosis in patients with recent onset low back pain in Australian primary care", BMJ
  2008;337:a171). The spread (standard deviation 14 years, ages 18 to 90) is our estimate.
* Duration: primary care sees mostly recent episodes (Henschke 2008 recruited under two weeks);
  we take 65% under 6 weeks, 15% 6 to 12 weeks and 20% longer, in whole weeks -- an estimate.
* Serious trauma 1.5%, minor trauma 15%: estimates consistent with 8 fractures in 1,172.
* Everything else (leg pain, posture signs, mood, sitting hours) uses estimates written next to
  each question below; they change which cause and stretches are chosen, not the safety path.

The per-question rates are the project's estimates, chosen to agree with the figures cited; they
are not measured rates of each item. Questions not listed here (added to the questionnaire later)
get: warning sign alarming 1%, unanswered 2%; other yes/no questions yes 20%; choices the first
value 70%; numbers as the uniform generator does.
"""
from __future__ import annotations

import random

from cases import random_answers as uniform_answers

# question id -> how it is answered. "p": probability of each answer (missing mass: the first
# non-alarming value or False); "skip": probability of leaving it unanswered.
REALISTIC = {
    "sex": {"p": {"male": 0.548, "female": 0.442, "other": 0.003, "unsaid": 0.007}},
    "onset": {"p": {"sudden": 0.45, "gradual": 0.50}, "skip": 0.05},
    "trauma": {"p": {"none": 0.835, "minor": 0.15, "major": 0.015}},
    # warning signs: rare (Henschke 2009); a few left unanswered
    "saddle_numbness": {"p": {True: 0.003}, "skip": 0.01},
    "bladder_bowel_change": {"p": {True: 0.005}, "skip": 0.01},
    "abdominal_pain": {"p": {True: 0.01}, "skip": 0.01},
    "fever": {"p": {True: 0.01}, "skip": 0.01},
    "weight_loss": {"p": {True: 0.01}, "skip": 0.01},
    "cancer_history": {"p": {True: 0.03}, "skip": 0.01},
    "night_pain": {"p": {True: 0.04}, "skip": 0.01},
    "osteoporosis": {"p": {True: 0.02}, "skip": 0.01},
    "long_term_steroids": {"p": {True: 0.01}, "skip": 0.01},
    "immunosuppressed": {"p": {True: 0.01}, "skip": 0.01},
    "iv_drug_use": {"p": {True: 0.003}, "skip": 0.01},
    "both_legs": {"p": {True: 0.005}, "skip": 0.01},
    "leg_weakness": {"p": {"stable": 0.02, "worsening": 0.003}, "skip": 0.01},
    # nerve-root and other features: estimates
    "leg_pain": {"p": {"none": 0.65, "above_knee": 0.20, "below_knee": 0.15}},
    "leg_numbness": {"p": {True: 0.10}, "skip": 0.02},
    "morning_stiffness": {"p": {True: 0.10}, "skip": 0.03},
    "better_with_exercise": {"p": {True: 0.25}, "skip": 0.05},
    "pelvis_tips_forward": {"p": {True: 0.15}, "skip": 0.10},
    "exaggerated_arch": {"p": {True: 0.15}, "skip": 0.10},
    "tight_hip_flexors": {"p": {True: 0.20}, "skip": 0.10},
    "weak_glutes": {"p": {True: 0.15}, "skip": 0.10},
    "fear_of_movement": {"p": {True: 0.20}, "skip": 0.05},
    "low_mood": {"p": {True: 0.15}, "skip": 0.05},
}


def _pick(rng: random.Random, probabilities: dict, rest):
    roll = rng.random()
    for value, p in probabilities.items():
        if roll < p:
            return value
        roll -= p
    return rest


def realistic_answers(questionnaire, rng: random.Random) -> dict:
    answers: dict = {}
    for q in questionnaire.questions.values():
        spec = REALISTIC.get(q.id)
        if q.id == "age":
            answers[q.id] = int(min(90, max(18, round(rng.gauss(43.3, 14)))))
            continue
        if q.id == "duration_weeks":
            roll = rng.random()
            if roll < 0.65:
                weeks = rng.randint(0, 5)
            elif roll < 0.80:
                weeks = rng.randint(6, 11)
            else:
                weeks = rng.randint(12, 104)
            answers[q.id] = weeks
            continue
        if q.id == "sitting_hours":
            if rng.random() < 0.1:
                continue
            answers[q.id] = int(round(rng.triangular(0, 12, 6)))
            continue
        if q.type == "text":
            if rng.random() < 0.1:
                answers[q.id] = rng.choice(["worse after long meetings", "better after a walk"])
            continue
        if spec is None:  # a question added after this table: generic frequencies
            if q.type in ("integer", "number"):
                value = uniform_answers(_only(questionnaire, q.id), rng).get(q.id)
                if value is not None:
                    answers[q.id] = value
                continue
            if q.red_flag:
                spec = {"p": {q.alarming[0]: 0.01}, "skip": 0.02} if q.alarming else {"p": {}}
            elif q.type == "bool":
                spec = {"p": {True: 0.2}, "skip": 0.05}
            else:
                spec = {"p": {q.values[0]: 0.7}, "skip": 0.05}
        if not q.required and rng.random() < spec.get("skip", 0.0):
            continue
        calm = [v for v in q.values if v not in q.alarming] or list(q.values)
        rest = False if q.type == "bool" else calm[0]
        if q.type == "choice" and rest in spec["p"]:
            rest = next((v for v in q.values if v not in spec["p"]), rest)
        answers[q.id] = _pick(rng, spec["p"], rest)
    return answers


class _only:
    """A questionnaire of one question, to reuse the uniform generator's numbers."""

    def __init__(self, questionnaire, qid):
        self.questions = {qid: questionnaire.questions[qid]}


WORKLOADS = {"realistic": realistic_answers, "uniform": uniform_answers}


def generate(workload: str, questionnaire, count: int, seed: int = 2026) -> list[dict]:
    rng = random.Random(seed)
    answer = WORKLOADS[workload]
    return [answer(questionnaire, rng) for _ in range(count)]
