"""Every patient reaches their advice: the web's HTML forms, walked as a browser without
JavaScript would (read the form from the page, fill it in, post, follow the redirect), end on the
verdict that `triage assess` gives for the same answers, for every clinical vignette in
tests/cases/ and for 500 generated answer sets covering every urgency and every emergency screen
(issue 20: 22 urgent vignettes once ended on a server error no test had walked).

The generator reads the questionnaire's own definition (`load_rulebook().questionnaire`): its
questions, types, ranges, choices, which are warning signs and which answers are alarming, so it
follows the questionnaire as it changes."""
from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from triage.emergency import emergency_screen
from triage.engine import assess
from triage.report import report_facts
from triage.rulebook import load_rulebook
from triage.clinician.vignettes import load_vignettes
from triage.web.app import Settings, create_app
from web_support import Browser, DirectClient
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
GENERATED = 500


def asked_answers(answers: dict) -> dict:
    """The answers a person gives on the way through: those to questions the skip logic asks,
    in the questionnaire's order, without the ones left unknown (the answers file's format)."""
    given: dict = {}
    for section in QUESTIONNAIRE.sections:
        for qid in section.questions:
            if QUESTIONNAIRE.is_skipped(qid, given):
                continue
            value = answers.get(qid)
            if value is not None:
                given[qid] = value
    return given


def generated_cases(count: int, seed: int = 20) -> list[dict]:
    """`count` answer sets from the questionnaire's definition. Each warning-sign question gives
    one of its alarming answers with a small chance, "not sure" with a smaller one, else a
    reassuring answer; so most cases hold zero to two warning signs and every urgency occurs."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        alarm = rng.choice((0.0, 0.0, 0.02, 0.06, 0.12))
        answers: dict = {}
        for qid, q in QUESTIONNAIRE.questions.items():
            may_be_unsure = not q.required and q.default is None
            if q.type in ("bool", "choice"):
                values = list(q.values)
                if q.red_flag and q.alarming:
                    calm = [v for v in values if v not in q.alarming] or values
                    roll = rng.random()
                    if roll < alarm:
                        value = rng.choice(list(q.alarming))
                    elif roll < alarm + 0.03 and may_be_unsure:
                        value = None
                    else:
                        value = rng.choice(calm)
                else:
                    value = rng.choice(values + ([None] if may_be_unsure else []))
            elif q.type in ("integer", "number"):
                low = q.min if q.min is not None else 0
                high = q.max if q.max is not None else 60  # e.g. weeks of pain
                if q.required or rng.random() < 0.8:
                    value = rng.randint(int(low), int(high))
                    if q.type == "number" and rng.random() < 0.3 and value < high:
                        value = value + 0.5
                else:
                    value = None
            else:  # free text
                value = rng.choice((None, "It started after moving house."))
            answers[qid] = value
        cases.append(answers)
    return cases


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.mktemp("journeys") / "web.sqlite3"
    with DirectClient(create_app(Settings(database_url=f"sqlite:///{path}"))) as client:
        yield client


def walk_and_compare(client, answers: dict):
    """Walk the forms with `answers` (a fresh browser: no cookies); check every response and that
    the last page names the urgency `assess` gives for the same answers. Returns the assessment."""
    client.cookies.clear()
    walk = Browser(client, QUESTIONNAIRE).walk(answers)
    assert not walk.server_errors, walk.server_errors
    given = asked_answers(answers)
    expected = assess(given, RULEBOOK)
    page = walk.last
    last_url = walk.responses[-1][1]
    assert page.status_code == 200, (last_url, page.text[:300])
    if expected.urgency == "emergency":
        assert last_url == "/emergency", (given, last_url)
        heading = emergency_screen(expected, RULEBOOK).heading
        assert f"<title>{heading}" in page.text
        assert 'class="page-emergency"' in page.text
        assert "Your result: Emergency" in page.text
    else:
        assert last_url == "/result", (given, last_url, expected.urgency)
        label = report_facts(expected, RULEBOOK)["verdict"]["label"]
        assert f'class="verdict verdict--{expected.urgency}"' in page.text
        assert f"Your result: {label}" in page.text
    # the report the last page links to opens too (a "not sure" number answer was a 500 there)
    report = client.get("/report")
    assert report.status_code == 200, (given, report.text[:300])
    return expected, walk


@pytest.mark.deep  # every vignette walked through every form: CI's run, not the quick loop
def test_every_vignette_walked_through_the_forms_ends_on_the_verdict_of_triage_assess(client):
    vignettes = load_vignettes(ROOT / "tests" / "cases")
    assert len(vignettes) >= 60
    seen = set()
    for vignette in vignettes:
        expected, _ = walk_and_compare(client, vignette.answers)
        seen.add(expected.urgency)
    assert seen == {"emergency", "urgent", "soon", "self_care"}


def screen_of(result) -> str:
    return emergency_screen(result, RULEBOOK).heading


@pytest.mark.deep  # 500 walks through every form: CI's run, not the quick loop
def test_500_generated_patients_reach_the_verdict_of_triage_assess_at_every_urgency(
        client, tmp_path):
    urgencies: dict[str, int] = {}
    screens: dict[str, int] = {}
    sample = []
    for n, answers in enumerate(generated_cases(GENERATED)):
        expected, walk = walk_and_compare(client, answers)
        urgencies[expected.urgency] = urgencies.get(expected.urgency, 0) + 1
        if expected.urgency == "emergency":
            screens[screen_of(expected)] = screens.get(screen_of(expected), 0) + 1
        if n % 50 == 0 or (expected.urgency not in [u for u, _ in sample]):
            sample.append((expected.urgency, asked_answers(answers)))
    # every urgency, and every emergency screen the rule files define, was walked
    assert set(urgencies) == {"emergency", "urgent", "soon", "self_care"}, urgencies
    assert set(screens) == {s.heading for s in RULEBOOK.emergency_screens}, screens
    # the real command on a sample: the same verdict from `triage assess --format json`
    for urgency, given in sample:
        path = tmp_path / "answers.json"
        path.write_text(json.dumps(given))
        done = subprocess.run([sys.executable, "-m", "triage", "assess", str(path), "--format",
                               "json"], capture_output=True, text=True, timeout=120)
        assert done.returncode in (0, 1, 2, 3, 4), done.stderr
        assert json.loads(done.stdout)["urgency"] == urgency, (given, done.stdout[:300])
