"""Screenshots of issue 24's pages at desktop and phone width, with axe-core run on each: the
patient's contact-details page, the result with its reference, the queue with references,
names, status and assignee, and a submission with its contact details, workflow and notes.
Fictional patients, a throwaway SQLite database, `triage serve --contact-details` on 127.0.0.1,
Debian's Chromium through Playwright (the test extra).

    python examples/web/clinic_workflow_screenshots.py   # writes examples/web/workflow-*.png
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent / "tests")]

from clinic_screenshots import CHROMIUM_ARGS, PASSWORD, free_port, seed  # noqa: E402


def main() -> int:
    os.environ["TRIAGE_CONTACT_KEY"] = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/clinic.sqlite3"
        seed(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "triage", "serve", "--port", str(port),
                                   "--database", url, "--contact-details"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            return shoot(base)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=20)


def patient(page, base: str) -> None:
    """A fictional patient with worsening leg weakness (urgent), through to the contact page."""
    from browser import answer_by_mouse
    from triage.rulebook import load_rulebook

    from clinic_screenshots import CLEAR

    answers = {**CLEAR, "age": 67, "duration_weeks": 3, "leg_pain": "below_knee",
               "leg_weakness": "worsening"}
    questions = load_rulebook().questionnaire.questions
    page.goto(base + "/")
    with page.expect_navigation():
        page.get_by_role("button", name="Start now").click()
    for _ in range(60):
        path = page.url.split(base, 1)[1]
        if not path.startswith("/question/"):
            break
        qid = path.rsplit("/", 1)[1].split("?")[0]
        answer_by_mouse(page, questions[qid], answers.get(qid))
    if "/check-answers" in page.url:
        with page.expect_navigation():
            page.get_by_role("button", name="Get my assessment").click()


def shoot(base: str) -> int:
    from browser import axe_violations

    chromium = os.environ.get("TRIAGE_CHROMIUM", "/usr/bin/chromium")
    problems = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for name, viewport in (("desktop", {"width": 1280, "height": 900}),
                               ("phone", {"width": 375, "height": 740})):
            page = browser.new_page(viewport=viewport)
            patient(page, base)
            page.screenshot(path=str(HERE / f"workflow-contact-{name}.png"), full_page=True)
            problems[f"contact {name}"] = axe_violations(page)
            page.get_by_role("button", name="Send my details").click()
            page.wait_for_load_state()
            problems[f"contact error {name}"] = axe_violations(page)
            page.get_by_label("Full name").fill("Jane Example")
            page.get_by_label("Day").fill("27")
            page.get_by_label("Month").fill("3")
            page.get_by_label("Year").fill("1958")
            page.get_by_label("Phone number").fill("07700 900982")
            page.get_by_label("I agree").check()
            page.get_by_role("button", name="Send my details").click()
            page.wait_for_load_state()
            page.screenshot(path=str(HERE / f"workflow-result-{name}.png"))
            problems[f"result {name}"] = axe_violations(page)
            page.goto(base + "/clinic/sign-in")
            page.get_by_label("Account name").fill("demo")
            page.get_by_label("Password").fill(PASSWORD)
            with page.expect_navigation():
                page.get_by_role("button", name="Sign in").click()
            page.screenshot(path=str(HERE / f"workflow-queue-{name}.png"), full_page=True)
            problems[f"queue {name}"] = axe_violations(page)
            with page.expect_navigation():
                page.locator("table.queue tbody tr", has_text="Jane Example").first \
                    .get_by_role("link").first.click()
            if name == "desktop":
                page.get_by_label("Status").select_option("contacted")
                page.get_by_label("Assigned to").select_option("demo")
                page.get_by_role("button", name="Save status and assignee").click()
                page.wait_for_load_state()
                page.get_by_label("Add a note").fill("Rang at 10:05; booked for tomorrow 9:00.")
                page.get_by_role("button", name="Add the note").click()
                page.wait_for_load_state()
            page.screenshot(path=str(HERE / f"workflow-submission-{name}.png"), full_page=True)
            problems[f"submission {name}"] = axe_violations(page)
            page.close()
        browser.close()
    for where, found in problems.items():
        print(f"axe, {where}: {'; '.join(found) if found else 'no violations'}")
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("workflow-*.png"))))
    return 1 if any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
