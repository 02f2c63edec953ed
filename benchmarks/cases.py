"""Random but valid answer sets, generated from the questionnaire (shared by the benchmarks).

Nothing here knows a question by name: it reads each question's type, choices, range and whether it
is a red-flag question from the rulebook's questionnaire, so the cases stay valid as questions
change. Red-flag questions get their alarming answer rarely (as in a real clinic) and are sometimes
left unanswered, so the cases cover every urgency, not just the self-care path.
"""
from __future__ import annotations

import random


def random_answers(questionnaire, rng: random.Random) -> dict:
    answers = {}
    for q in questionnaire.questions.values():
        if not q.required and rng.random() < (0.02 if q.red_flag else 0.1):
            continue  # unanswered
        if q.type == "bool":
            if q.red_flag:
                value = rng.random() < 0.04
            else:
                value = rng.random() < 0.35
        elif q.type == "choice":
            values = list(q.values)
            if q.red_flag and q.alarming and rng.random() > 0.05:
                calm = [v for v in values if v not in q.alarming]
                value = rng.choice(calm or values)
            elif rng.random() < 0.6:
                value = values[0]  # the first choice is the usual one (none, gradual, ...)
            else:
                value = rng.choice(values)
        elif q.type == "integer":
            low = int(q.min) if q.min is not None else 0
            high = min(int(q.max) if q.max is not None else 100, 95)
            value = rng.randint(low, high)
        elif q.type == "number":
            low = float(q.min) if q.min is not None else 0.0
            high = float(q.max) if q.max is not None else 26.0
            value = round(rng.triangular(low, high, low) * 2) / 2  # short values commoner
        else:
            value = rng.choice(["", "worse after long meetings", "better after a walk"])
            if not value:
                continue
        answers[q.id] = value
    return answers


def generate(questionnaire, count: int, seed: int = 2026) -> list[dict]:
    rng = random.Random(seed)
    return [random_answers(questionnaire, rng) for _ in range(count)]
