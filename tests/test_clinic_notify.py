"""Issue 24, item 2: an emergency or urgent submission notifies the clinic by a signed webhook
and by email, retried with backoff, every delivery recorded in the audit trail; a notification
carries only the reference, the urgency and a link. Real receivers on 127.0.0.1: an HTTP server
and an SMTP server (aiosmtpd)."""
from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import re
import threading

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from clinic_support import CASES, RULEBOOK
from triage.web.app import Settings, create_app
from triage.web.clinic import notify
from triage.web.clinic.models import AuditEvent
from triage.web.db import PatientSession
from web_support import Patient, free_port

SECRET = "clinic-webhook-secret"


class Receiver:
    """An HTTP server on 127.0.0.1 that answers the first `failures` posts with 500."""

    def __init__(self, failures: int = 0):
        self.posts: list[tuple[dict, bytes]] = []
        self.failures = failures
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.posts.append((dict(self.headers), body))
                status = 500 if len(receiver.posts) <= receiver.failures else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self):
        self.messages: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture
def receiver():
    r = Receiver(failures=1)  # the first try fails: the second is delivered
    yield r
    r.close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.address = f"127.0.0.1:{controller.port}"
    yield box
    controller.stop()


@pytest.fixture
def app(database_url, receiver, mailbox, monkeypatch):
    monkeypatch.setattr(notify, "FIRST_WAIT", 0.05)
    for name, value in {"TRIAGE_NOTIFY_WEBHOOK": receiver.url,
                        "TRIAGE_NOTIFY_WEBHOOK_SECRET": SECRET,
                        "TRIAGE_NOTIFY_SMTP": mailbox.address,
                        "TRIAGE_NOTIFY_EMAIL_TO": "duty@clinic.example",
                        "TRIAGE_PUBLIC_URL": "https://clinic.example"}.items():
        monkeypatch.setenv(name, value)
    return create_app(Settings(database_url=database_url))


def submit(app, answers):
    with TestClient(app) as client:
        patient = Patient(client, RULEBOOK.questionnaire)
        if patient.answer_all(answers) == "/check-answers":
            patient.submit()
    for thread in getattr(app.state, "notify_threads", []):
        thread.join(timeout=20)
    with app.state.db() as db:
        row = db.scalars(sa.select(PatientSession).order_by(PatientSession.created_at.desc())
                         ).first()
        events = list(db.scalars(sa.select(AuditEvent).where(AuditEvent.action == "notify")
                                 .where(AuditEvent.submission_id == row.id)))
    return row, events


def test_an_urgent_submission_is_posted_signed_and_emailed_with_nothing_but_reference_and_link(
        app, receiver, mailbox):
    # worsening leg weakness is urgent (NICE NG59: progressive neurological deficit)
    row, events = submit(app, CASES["urgent"])
    assert row.urgency == "urgent"
    assert len(receiver.posts) == 2  # the first answered 500, the retry was delivered
    headers, body = receiver.posts[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Triage-Signature"] == expected
    assert json.loads(body) == {"reference": row.reference, "urgency": "urgent",
                                "link": f"https://clinic.example/clinic/submissions/{row.id}"}
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert row.reference in mail and f"/clinic/submissions/{row.id}" in mail
    text = mail.split("\r\n\r\n", 1)[1].replace(row.id, "").replace(row.reference, "")
    words = re.findall(r"[a-z_]+", text.lower())
    for qid in row.answers:  # no answer, not even a question's id, in the email's text
        assert qid not in words
    # the email says the urgency, the reference and the link, and nothing more
    assert set(words) <= {"urgent", "submission", "reference", "open", "it", "sign", "in",
                          "first", "https", "clinic", "example", "submissions"}
    assert sorted(e.detail for e in events) == ["email delivered (attempt 1)",
                                                "webhook delivered (attempt 2)"]
    assert {e.actor for e in events} == {"system"}


def test_an_emergency_is_notified_the_moment_the_answer_makes_it_one(app, receiver, mailbox):
    # saddle numbness: cauda equina, an emergency (NICE CKS, red flags)
    row, events = submit(app, CASES["emergency"])
    assert row.urgency == "emergency"
    assert json.loads(receiver.posts[-1][1])["urgency"] == "emergency"
    assert "Emergency submission" in mailbox.messages[0]
    assert len(events) == 2


def test_a_self_care_submission_notifies_nobody(app, receiver, mailbox):
    row, events = submit(app, CASES["self_care"])
    assert row.urgency == "self_care"
    assert receiver.posts == [] and mailbox.messages == [] and events == []


def test_a_webhook_that_keeps_failing_is_tried_with_backoff_and_the_failure_recorded(
        app, receiver, mailbox):
    receiver.failures = 100
    row, events = submit(app, CASES["urgent"])
    assert len(receiver.posts) == notify.ATTEMPTS
    assert f"webhook failed after {notify.ATTEMPTS} attempts: HTTP 500" in \
        [e.detail for e in events]
