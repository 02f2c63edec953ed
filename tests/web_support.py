"""Helpers of the web tests: a free port on 127.0.0.1, a `triage serve` process, waiting for it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def triage_command() -> list[str]:
    """`triage` of the interpreter running the tests (the installed package)."""
    return [sys.executable, "-m", "triage"]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: "
                                 f"{process.stderr.read() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not answer at {url} within {timeout} s")


class Server:
    """`triage serve` in a child process on 127.0.0.1 and a free port; stopped with Ctrl-C
    (SIGINT), as a person stops it."""

    def __init__(self, database_url: str, *args: str, cwd: str | Path | None = None,
                 env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            triage_command() + ["serve", "--port", str(self.port), "--database", database_url,
                                *args],
            cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until_up(self.url, self.process)

    def stop(self, timeout: float = 20) -> tuple[int, str, str]:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out, err

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------- a patient in a test client

def form_value(question, value) -> str:
    """What the page's form sends for an answer (the radios' values, the typed number)."""
    if value is None:
        return "__not_sure__"
    if question.type == "bool":
        return "yes" if value else "no"
    return str(value)


class Patient:
    """A person using the web pages through a test client: starts, answers what each page asks
    (from `answers`; "I'm not sure" for a question not in it), follows the redirects."""

    def __init__(self, client, questionnaire):
        self.client = client
        self.questionnaire = questionnaire
        self.asked: list[str] = []

    @property
    def csrf(self) -> str:
        token = self.client.cookies.get("triage_csrf")
        if token is None:
            self.client.get("/")
            token = self.client.cookies.get("triage_csrf")
        return token

    def start(self):
        response = self.client.post("/start", data={"csrf_token": self.csrf},
                                    follow_redirects=False)
        assert response.status_code == 303, response.text
        return response.headers["location"]

    def post_answer(self, qid: str, value, *, raw: str | None = None, change: bool = False):
        q = self.questionnaire.questions[qid]
        data = {"csrf_token": self.csrf, "answer": raw if raw is not None else form_value(q, value)}
        if change:
            data["change"] = "1"
        return self.client.post(f"/question/{qid}", data=data, follow_redirects=False)

    def answer_all(self, answers: dict, *, stop_at: str | None = None) -> str:
        """Answer page after page until the flow leaves the questions (or reaches `stop_at`);
        returns where it went: /check-answers, /emergency, or /question/<stop_at>."""
        location = self.start() if not self.client.cookies.get("triage_session") else None
        if location is None:
            location = self.client.get("/", follow_redirects=False) and self._current()
        for _ in range(200):
            if not location.startswith("/question/"):
                return location
            qid = location.rsplit("/", 1)[1].split("?")[0]
            if qid == stop_at:
                return location
            page = self.client.get(location)
            assert page.status_code == 200, (location, page.text[:500])
            self.asked.append(qid)
            response = self.post_answer(qid, answers.get(qid))
            assert response.status_code == 303, (qid, response.text[:2000])
            location = response.headers["location"]
        raise AssertionError("the questions did not end")

    def _current(self) -> str:
        page = self.client.get("/check-answers", follow_redirects=False)
        return page.headers.get("location", "/check-answers") if page.status_code == 303 \
            else "/check-answers"

    def submit(self):
        return self.client.post("/submit", data={"csrf_token": self.csrf}, follow_redirects=False)
