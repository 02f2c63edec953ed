"""Screenshots of every page type of `triage serve`, at phone and desktop width.

    python examples/web/make_screenshots.py        # writes examples/web/*.png

Starts `triage serve` on 127.0.0.1 and a free port with a throwaway SQLite database, walks the
desk worker's journey (examples/desk_worker.yaml) and an emergency in Debian's Chromium
(Playwright), and saves one PNG per page type and width. Needs the test extra and chromium.
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

HERE = Path(__file__).resolve().parent
DESK_WORKER = yaml.safe_load((HERE.parent / "desk_worker.yaml").read_text())
WIDTHS = {"phone": {"width": 375, "height": 740}, "desktop": {"width": 1280, "height": 860}}
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
        if radio.count():
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
    shoot(page, "result", width)
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
