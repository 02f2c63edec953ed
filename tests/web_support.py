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
        # A free port can be taken between free_port() and the server's bind by another process
        # (a second pytest-xdist worker, another test run on the machine): then the server
        # exits saying so, and it is started again on another port.
        for attempt in range(5):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.process = subprocess.Popen(
                triage_command() + ["serve", "--port", str(self.port), "--database",
                                    database_url, *args],
                cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                wait_until_up(self.url, self.process)
                return
            except AssertionError as failed:
                if attempt == 4 or "already in use" not in str(failed).lower():
                    self.stop()
                    raise

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
    """What the page's form sends for an answer (the radios' values, the typed number). No
    answer (None) is the "I'm not sure" radio, or for a question without one the radio of its
    default (what `triage assess` assumes when it is missing), or an empty field."""
    if value is None:
        if question.type not in ("bool", "choice"):
            return ""
        if question.default is not None:
            return form_value(question, question.default)
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


# --------------------------------------------------------------------------- a browser without JavaScript

class Form:
    """One <form> of a page as a browser reads it: where it posts, its hidden fields, its radios
    (name -> [(value, label)]) and its text fields (names of <input type=text> and <textarea>)."""

    def __init__(self, action: str, method: str):
        self.action, self.method = action, method
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[tuple[str, str]]] = {}
        self.texts: list[str] = []
        self.buttons: list[str] = []


class FormReader:
    """The forms of an HTML page (stdlib html.parser): what a browser without JavaScript can
    submit. Labels are joined to radios by their `for` attribute."""

    def __init__(self, html_text: str):
        from html.parser import HTMLParser

        forms: list[Form] = []
        ids: dict[str, tuple[Form, str, str]] = {}  # radio id -> (form, name, value)
        labels: dict[str, str] = {}
        state = {"form": None, "label_for": None, "label_text": [], "button": None}

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                a = {k: (v or "") for k, v in attrs}
                form = state["form"]
                if tag == "form":
                    state["form"] = Form(a.get("action", ""), a.get("method", "get").lower())
                    forms.append(state["form"])
                elif form is not None and tag == "input":
                    kind = a.get("type", "text").lower()
                    if kind == "hidden":
                        form.hidden[a.get("name", "")] = a.get("value", "")
                    elif kind == "radio":
                        form.radios.setdefault(a["name"], [])
                        ids[a.get("id", "")] = (form, a["name"], a.get("value", "on"))
                    elif kind in ("text", "number", "search", "tel"):
                        form.texts.append(a.get("name", ""))
                elif form is not None and tag == "textarea":
                    form.texts.append(a.get("name", ""))
                elif form is not None and tag == "button":
                    state["button"] = []
                elif tag == "label":
                    state["label_for"], state["label_text"] = a.get("for"), []

            def handle_endtag(self, tag):
                if tag == "form":
                    state["form"] = None
                elif tag == "label" and state["label_for"]:
                    labels[state["label_for"]] = " ".join("".join(state["label_text"]).split())
                    state["label_for"] = None
                elif tag == "button" and state["button"] is not None and state["form"]:
                    state["form"].buttons.append(" ".join("".join(state["button"]).split()))
                    state["button"] = None

            def handle_data(self, data):
                if state["label_for"]:
                    state["label_text"].append(data)
                if state["button"] is not None:
                    state["button"].append(data)

        import re

        # only the forms (labels sit inside them): the rest of the page is not for submitting
        Parser().feed("".join(re.findall(r"<form\b.*?</form>", html_text, flags=re.S)))
        for radio_id, (form, name, value) in ids.items():
            form.radios[name].append((value, labels.get(radio_id, "")))
        self.forms = forms

    def form(self, action_prefix: str) -> Form:
        found = [f for f in self.forms if f.method == "post" and f.action.startswith(action_prefix)]
        assert len(found) == 1, (action_prefix, [f.action for f in self.forms])
        return found[0]


class Walk:
    """What a walk through the pages saw: every (method, url, status), the questions asked, the
    answers given, and the last page."""

    def __init__(self):
        self.responses: list[tuple[str, str, int]] = []
        self.asked: list[str] = []
        self.given: dict = {}
        self.last = None

    @property
    def server_errors(self) -> list:
        return [r for r in self.responses if r[2] >= 500]


class Browser:
    """A person with a browser that runs no JavaScript, on the test client: opens the start page,
    submits the forms it finds (reading each form's action, hidden fields and radio values from
    the HTML, never from the code), follows every redirect, and answers each question from
    `answers` by the question's id (the last part of the form's action). A question not in
    `answers`, or None, is answered "I'm not sure" when the page offers it; otherwise the radio
    whose value is the questionnaire's default (what `triage assess` assumes), else left empty."""

    def __init__(self, client, questionnaire):
        self.client, self.questionnaire = client, questionnaire

    def _go(self, walk: Walk, method: str, url: str, data: dict | None = None):
        for _ in range(10):
            if method == "GET":
                response = self.client.get(url, follow_redirects=False)
            else:
                response = self.client.post(url, data=data, follow_redirects=False)
            walk.responses.append((method, url, response.status_code))
            if response.status_code not in (301, 302, 303, 307):
                return response
            method, url, data = "GET", response.headers["location"], None
        raise AssertionError(f"too many redirects from {url}")

    def choose(self, q, value, form: Form) -> dict:
        """The form fields a person fills in to give `value` to question `q`."""
        if form.radios:
            (name, options), = form.radios.items()
            values = [v for v, _ in options]
            if value is None:
                wanted = "__not_sure__" if "__not_sure__" in values else form_value(q, q.default)
            else:
                wanted = form_value(q, value)
            assert wanted in values, (q.id, wanted, values)
            return {name: wanted}
        (name,) = form.texts
        return {name: "" if value is None else str(value)}

    def walk(self, answers: dict, *, limit: int = 300) -> Walk:
        walk = Walk()
        page = self._go(walk, "GET", "/")
        form = FormReader(page.text).form("/start")
        page = self._go(walk, "POST", form.action, dict(form.hidden))
        for _ in range(limit):
            if page.status_code != 200:
                break
            url = str(page.url.path) if hasattr(page, "url") else ""
            forms = FormReader(page.text)
            questions = [f for f in forms.forms if f.action.startswith("/question/")]
            if questions:
                form = questions[0]
                qid = form.action.rsplit("/", 1)[1]
                q = self.questionnaire.questions[qid]
                value = answers.get(qid)
                walk.asked.append(qid)
                walk.given[qid] = value
                page = self._go(walk, "POST", form.action, {**form.hidden,
                                                            **self.choose(q, value, form)})
                continue
            submits = [f for f in forms.forms if f.action == "/submit"]
            if submits:
                page = self._go(walk, "POST", "/submit", dict(submits[0].hidden))
                continue
            break
        else:
            raise AssertionError("the questions did not end")
        walk.last = page
        return walk


class DirectResponse:
    def __init__(self, status_code: int, headers: list, body: bytes, path: str):
        self.status_code = status_code
        self.headers = {}
        self.set_cookies = []
        for name, value in headers:
            name, value = name.decode("latin-1").lower(), value.decode("latin-1")
            if name == "set-cookie":
                self.set_cookies.append(value)
            self.headers[name] = value
        self.content = body
        self.text = body.decode("utf-8", "replace")
        self.path = path


class DirectClient:
    """A synchronous client that calls the ASGI app on one event loop in this thread: the same
    requests as the framework's TestClient (lifespan, cookies, form posts, no redirects followed)
    without its thread hop per message, which costs more than the page itself. For the tests that
    walk hundreds of journeys; anything else uses TestClient."""

    def __init__(self, app):
        import asyncio

        self.app = app
        self.loop = asyncio.new_event_loop()
        self.cookies: dict[str, str] = {}
        self._lifespan = None

    def __enter__(self) -> "DirectClient":
        import asyncio

        self._started = asyncio.Event()
        self._stop = asyncio.Event()
        self._queue = [{"type": "lifespan.startup"}]

        async def receive():
            if self._queue:
                return self._queue.pop(0)
            await self._stop.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message):
            if message["type"] in ("lifespan.startup.complete", "lifespan.startup.failed"):
                self._started.set()

        async def start():
            task = asyncio.ensure_future(self.app({"type": "lifespan", "asgi": {"version": "3.0"},
                                                   "state": {}}, receive, send))
            await self._started.wait()
            return task

        self._lifespan = self.loop.run_until_complete(start())
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.loop.run_until_complete(self._lifespan)
        self.loop.close()

    def get(self, url: str, follow_redirects: bool = False) -> DirectResponse:
        return self.request("GET", url)

    def post(self, url: str, data: dict | None = None,
             follow_redirects: bool = False) -> DirectResponse:
        return self.request("POST", url, data or {})

    def request(self, method: str, url: str, data: dict | None = None) -> DirectResponse:
        import urllib.parse

        path, _, query = url.partition("?")
        body = urllib.parse.urlencode(data).encode() if data is not None else b""
        headers = [(b"host", b"testserver")]
        if self.cookies:
            headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in
                                                 self.cookies.items()).encode()))
        if data is not None:
            headers += [(b"content-type", b"application/x-www-form-urlencoded"),
                        (b"content-length", str(len(body)).encode())]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": urllib.parse.unquote(path),
                 "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 50000),
                 "server": ("testserver", 80), "state": {}}
        sent = {"body": False}
        start: dict = {}
        chunks: list[bytes] = []

        async def receive():
            if not sent["body"]:
                sent["body"] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            self.loop.run_until_complete(self.app(scope, receive, send))
        except Exception:
            # the server's error handler re-raises after sending its 500 page: the walk records
            # the 500 a browser would see (and the test names it); nothing sent is a test error
            if not start:
                raise
        response = DirectResponse(start["status"], start.get("headers", []), b"".join(chunks),
                                  path)
        for cookie in response.set_cookies:
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.lower() or 'expires=thu, 01 jan 1970' in attributes.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value.strip('"')
        return response
