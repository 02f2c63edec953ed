"""Emergencies and urgent cases noticed (issue 24): a webhook and an email when one arrives.

Configured with environment variables (read when the server starts; none set: no notification):

* ``TRIAGE_NOTIFY_WEBHOOK``: a URL that receives a JSON POST, signed with HMAC-SHA256 of the
  body under ``TRIAGE_NOTIFY_WEBHOOK_SECRET`` (header ``X-Triage-Signature: sha256=<hex>``);
* ``TRIAGE_NOTIFY_SMTP`` (``host:port``), ``TRIAGE_NOTIFY_EMAIL_TO`` (comma-separated) and
  ``TRIAGE_NOTIFY_EMAIL_FROM``: an email over SMTP (STARTTLS when the server offers it; a user
  and password from ``TRIAGE_NOTIFY_SMTP_USER`` / ``TRIAGE_NOTIFY_SMTP_PASSWORD``);
* ``TRIAGE_PUBLIC_URL``: the clinic's address, for the link (default http://127.0.0.1:8000).

A notification carries only the submission's reference, its urgency and a link to it: never
answers, results' reasons or contact details (whoever follows the link signs in). Each is sent
from a background thread, tried up to ``ATTEMPTS`` times with a doubling wait, and every
delivery or final failure is an event of the audit trail (action ``notify``, actor ``system``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import smtplib
import threading
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

log = logging.getLogger("triage.web")

NOTIFIED = ("emergency", "urgent")
ATTEMPTS = 5
FIRST_WAIT = 1.0  # seconds before the second attempt; doubled each time
TIMEOUT = 10


@dataclasses.dataclass(frozen=True)
class Channels:
    webhook: str = ""
    secret: str = ""
    smtp: str = ""
    email_to: tuple[str, ...] = ()
    email_from: str = ""
    smtp_user: str = ""
    smtp_password: str = ""
    public_url: str = "http://127.0.0.1:8000"

    @classmethod
    def from_env(cls, environ=None) -> "Channels":
        env = environ if environ is not None else os.environ
        return cls(webhook=env.get("TRIAGE_NOTIFY_WEBHOOK", ""),
                   secret=env.get("TRIAGE_NOTIFY_WEBHOOK_SECRET", ""),
                   smtp=env.get("TRIAGE_NOTIFY_SMTP", ""),
                   email_to=tuple(a.strip() for a in env.get("TRIAGE_NOTIFY_EMAIL_TO", "")
                                  .split(",") if a.strip()),
                   email_from=env.get("TRIAGE_NOTIFY_EMAIL_FROM", "triage@localhost"),
                   smtp_user=env.get("TRIAGE_NOTIFY_SMTP_USER", ""),
                   smtp_password=env.get("TRIAGE_NOTIFY_SMTP_PASSWORD", ""),
                   public_url=env.get("TRIAGE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"))

    @property
    def any(self) -> bool:
        return bool(self.webhook or (self.smtp and self.email_to))


def message(submission_id: str, reference: str | None, urgency: str, public_url: str) -> dict:
    """What every notification says: the reference, the urgency and a link. Nothing else."""
    return {"reference": reference, "urgency": urgency,
            "link": f"{public_url}/clinic/submissions/{submission_id}"}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def send_webhook(channels: Channels, payload: dict) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(channels.webhook, data=body, method="POST", headers={
        "content-type": "application/json", "user-agent": "triage-notify",
        "x-triage-signature": signature(channels.secret, body)})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


def send_email(channels: Channels, payload: dict) -> None:
    mail = EmailMessage()
    words = "Emergency" if payload["urgency"] == "emergency" else "Urgent"
    mail["Subject"] = f"Triage: {words.lower()} submission {payload['reference'] or ''}".strip()
    mail["From"] = channels.email_from
    mail["To"] = ", ".join(channels.email_to)
    mail.set_content(f"{words} submission, reference {payload['reference']}.\n\n"
                     f"Open it (sign in first): {payload['link']}\n", cte="7bit")
    host, _, port = channels.smtp.rpartition(":")
    with smtplib.SMTP(host or channels.smtp, int(port or 25), timeout=TIMEOUT) as smtp:
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        if channels.smtp_user:
            smtp.login(channels.smtp_user, channels.smtp_password)
        smtp.send_message(mail)


def _deliver(app, channel: str, send, channels: Channels, payload: dict,
             submission_id: str) -> None:
    from . import audit

    wait, outcome = FIRST_WAIT, ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            send(channels, payload)
            outcome = f"{channel} delivered (attempt {attempt})"
            break
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            reason = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) \
                else type(exc).__name__
            outcome = f"{channel} failed after {attempt} attempts: {reason}"
            if attempt < ATTEMPTS:
                time.sleep(wait)
                wait *= 2
    if outcome.startswith(f"{channel} failed"):
        log.warning("notification %s", outcome)  # no reference, no patient: the kind only
    try:
        with app.state.db() as db:
            audit.record(db, "notify", "system", submission_id=submission_id, detail=outcome)
            db.commit()
    except Exception:  # the database is away: the warning above is all there is
        log.exception("could not record a notification's delivery")


def submitted(app, submission_id: str, reference: str | None, urgency: str) -> list:
    """Notify the clinic's channels of an emergency or urgent submission (in the background);
    returns the threads started (the tests wait for them)."""
    channels: Channels = getattr(app.state, "notify", None) or Channels()
    if urgency not in NOTIFIED or not channels.any:
        return []
    payload = message(submission_id, reference, urgency, channels.public_url)
    threads = []
    if channels.webhook:
        threads.append(threading.Thread(target=_deliver, daemon=True, args=(
            app, "webhook", send_webhook, channels, payload, submission_id)))
    if channels.smtp and channels.email_to:
        threads.append(threading.Thread(target=_deliver, daemon=True, args=(
            app, "email", send_email, channels, payload, submission_id)))
    for thread in threads:
        thread.start()
    app.state.notify_threads = [t for t in getattr(app.state, "notify_threads", [])
                                if t.is_alive()] + threads
    return threads
