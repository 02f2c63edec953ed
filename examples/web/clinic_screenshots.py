"""Screenshots of the clinic's pages, linked from the docs (docs/administrators/clinic.md): the queue at desktop and phone width
and one submission. Fictional patients, a throwaway SQLite database, `triage serve` on 127.0.0.1,
Debian's Chromium through Playwright (the test extra).

    python examples/web/clinic_screenshots.py       # writes examples/web/clinic-*.png
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
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

from triage.engine import assess
from triage.rulebook import load_rulebook
from triage.web.clinic import accounts
from triage.web.clinic.models import Review
from triage.web.db import PatientSession, digest, make_engine, migrate, session_factory, utcnow

HERE = Path(__file__).resolve().parent
DESK_WORKER = yaml.safe_load((HERE.parent / "desk_worker.yaml").read_text())
CLEAR = {k: v for k, v in DESK_WORKER.items()
         if k not in ("pelvis_tips_forward", "exaggerated_arch", "tight_hip_flexors", "notes")}
PASSWORD = "a demo password, not a real one"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# (minutes ago, answers, reviewed by demo?)
PATIENTS = [
    (12, {**CLEAR, "age": 58, "sex": "male", "duration_weeks": 1, "saddle_numbness": "yes",
          "leg_pain": "below_knee"}, False),
    (5, {**CLEAR, "age": 71, "sex": "male", "duration_weeks": 0.3, "chest_pain": "yes"}, False),
    (25, DESK_WORKER, False),
    (95, {**CLEAR, "age": 67, "duration_weeks": 3, "leg_pain": "below_knee",
          "leg_weakness": "worsening"}, True),
    (60 * 26, {**CLEAR, "age": 45, "duration_weeks": 5, "weight_loss": "yes"}, False),
    (60 * 3, {**CLEAR, "age": 52, "duration_weeks": 20}, False),
    (60 * 20, {**CLEAR, "age": 38, "duration_weeks": 4, "leg_pain": "below_knee"}, True),
    (60 * 50, {**CLEAR, "age": 29, "duration_weeks": 0.5}, False),
]


def seed(url: str) -> None:
    rulebook = load_rulebook()
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine)() as db:
        demo = accounts.add_user(db, "demo", PASSWORD, role="admin", actor="screenshots")
        db.flush()
        for minutes, answers, reviewed in PATIENTS:
            result = assess(answers, rulebook)
            when = utcnow() - dt.timedelta(minutes=minutes)
            row = PatientSession(token_hash=digest(secrets.token_urlsafe(32)),
                                 answers=dict(result.answers), created_at=when, updated_at=when,
                                 submitted_at=when, urgency=result.urgency,
                                 assessment=result.to_dict())
            db.add(row)
            db.flush()
            if reviewed:
                db.add(Review(submission_id=row.id, user_id=demo.id,
                              reviewed_at=when + dt.timedelta(minutes=7)))
        db.commit()
    engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/clinic.sqlite3"
        seed(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "triage", "serve", "--port", str(port),
                                   "--database", url], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            shoot(base)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=20)


def shoot(base: str) -> None:
    chromium = os.environ.get("TRIAGE_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for name, viewport in (("desktop", {"width": 1280, "height": 900}),
                               ("phone", {"width": 375, "height": 740})):
            page = browser.new_page(viewport=viewport)
            page.goto(base + "/clinic/sign-in")
            page.get_by_label("Account name").fill("demo")
            page.get_by_label("Password").fill(PASSWORD)
            with page.expect_navigation():
                page.get_by_role("button", name="Sign in").click()
            page.screenshot(path=str(HERE / f"clinic-queue-{name}.png"), full_page=True)
            if name == "desktop":
                with page.expect_navigation():
                    page.locator("table.queue tbody tr").first.get_by_role("link").click()
                page.screenshot(path=str(HERE / "clinic-submission-desktop.png"))
            page.close()
        browser.close()
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("clinic-*.png"))))


if __name__ == "__main__":
    main()
