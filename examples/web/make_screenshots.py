"""Screenshots of every page type of `triage serve`, at phone and desktop width.

    python examples/web/make_screenshots.py        # writes examples/web/*.png

Starts `triage serve` on 127.0.0.1 and a free port with a throwaway SQLite database, walks the
desk worker's journey (examples/desk_worker.yaml), a journey to each other urgency and two
emergencies (cauda equina; pregnancy) in Debian's Chromium (Playwright), and saves one PNG per
page type and width: a result page for every urgency (result: self-care; result-soon,
result-urgent, emergency, emergency-pregnancy) and the report on a phone. Needs the test extra
and chromium.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

from triage.rulebook import load_rulebook

HERE = Path(__file__).resolve().parent
DESK_WORKER = yaml.safe_load((HERE.parent / "desk_worker.yaml").read_text())
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 860}}
# reassuring answers to every warning-sign question the questionnaire defines (its first
# reassuring value, as the tests' ALL_CLEAR), and to the questions the rules combine with them,
# then one change each
_QUESTIONNAIRE = load_rulebook().questionnaire
CALM = {"age": 44, "sex": "male", "duration_weeks": 2, "onset": "gradual", "trauma": "none",
        **{q.id: next(v for v in q.values if v not in q.alarming)
           for q in _QUESTIONNAIRE.questions.values() if q.red_flag},
        "leg_pain": "none", "leg_numbness": False, "leg_weakness": "none", "pain_score": 4,
        "pain_trend": "better", "stops_daily_life": False, "diabetes": False}
OTHER_URGENCIES = {
    "urgent": {**CALM, "fever": True},  # fever with back pain: same day (NICE CKS)
    "soon": {**CALM, "duration_weeks": 14},  # chronic pain: soon (contract section 3)
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answer(page, value) -> None:
    radios = page.locator("input[name=answer][type=radio]")
    if radios.count():
        wanted = {True: "yes", False: "no", None: "__not_sure__"}.get(value, value)
        radio = page.locator(f"input[name=answer][value='{wanted}']")
        if not radio.count():  # no "I'm not sure" here: the last choice (prefer not to say)
            radio = radios.last
        radio.check()
    else:
        page.fill("#answer", "" if value is None else str(value))
    with page.expect_navigation():
        page.click("button[type=submit]")


def answer_until(page, answers, stop_at=None) -> None:
    while "/question/" in page.url:
        qid = page.url.rsplit("/", 1)[1].split("?")[0]
        if qid == stop_at:
            return
        answer(page, answers.get(qid))


def shoot(page, name: str, width: str) -> None:
    path = HERE / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    print(path.relative_to(HERE.parent.parent))


def journey(page, base: str, width: str) -> None:
    page.goto(base + "/")
    shoot(page, "start", width)
    with page.expect_navigation():
        page.click("button.button--start")
    shoot(page, "question-number", width)
    page.fill("#answer", "two hundred")
    with page.expect_navigation():
        page.click("button[type=submit]")
    shoot(page, "question-error", width)
    answer_until(page, DESK_WORKER, stop_at="saddle_numbness")
    page.click("summary:has-text('Why we ask this')")
    shoot(page, "question-radios", width)
    answer_until(page, DESK_WORKER)
    shoot(page, "check-answers", width)
    page.goto(base + "/save")
    with page.expect_navigation():
        page.get_by_role("button", name="Get a resume code").click()
    shoot(page, "resume-code", width)
    page.goto(base + "/check-answers")
    with page.expect_navigation():
        page.click("form[action='/submit'] button")
    shoot(page, "result", width)  # self-care (the docs link it by this name)
    if width == "phone":
        page.goto(base + "/report")
        shoot(page, "report", width)
    for urgency, answers in OTHER_URGENCIES.items():
        page.context.clear_cookies()
        page.goto(base + "/")
        with page.expect_navigation():
            page.click("button.button--start")
        answer_until(page, answers)
        with page.expect_navigation():
            page.click("form[action='/submit'] button")
        shoot(page, f"result-{urgency}", width)
    page.context.clear_cookies()
    page.goto(base + "/")
    with page.expect_navigation():
        page.click("button.button--start")
    answer_until(page, {**CALM, "age": 31, "sex": "female", "pregnant": True,
                        "pregnancy_symptoms": True})
    shoot(page, "emergency-pregnancy", width)
    page.context.clear_cookies()
    page.goto(base + "/")
    with page.expect_navigation():
        page.click("button.button--start")
    answer_until(page, {"age": 58, "sex": "male", "duration_weeks": 1, "trauma": "none",
                        "chest_pain": False, "headache_stiff_neck": False,
                        "saddle_numbness": True})
    shoot(page, "emergency", width)
    page.goto(base + "/docs")
    shoot(page, "api-docs", width)


def main() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        server = subprocess.Popen(
            [sys.executable, "-m", "triage", "serve", "--port", str(port), "--database",
             f"sqlite:///{scratch}/shots.sqlite3"], stdin=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=os.environ.get("TRIAGE_CHROMIUM", "/usr/bin/chromium"),
                    args=CHROMIUM_ARGS)
                for width, viewport in WIDTHS.items():
                    context = browser.new_context(viewport=viewport)
                    journey(context.new_page(), base, width)
                    context.close()
                browser.close()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
