"""Issue 25 on the web: follow-up check-ins, walked as a browser without JavaScript walks them
(every form read from the page's HTML, tests/web_support.py), on SQLite and PostgreSQL.

A first visit with a `self_care` result offers a follow-up link and code; the check-in asks the
emergency screen first, then pain, the global rating of change, the activity named at the first
visit, and every other warning sign; the clinic sees the course and the queue flags check-ins
that got worse and people who missed theirs. The clinical expectations follow the contract
(section 3) and NICE NG59 as the core library (triage/followup.py) applies them:

* worsening leg weakness is a progressive neurological deficit: urgent (NICE NG59 1.1; the
  same row of contract section 3 as at a first visit);
* saddle numbness is a sign of cauda equina syndrome: an emergency (NICE CKS back pain, red
  flags), shown the moment it is answered, as at a first visit;
* no improvement by the review date means the person should be seen: `self_care` becomes
  `soon` (contract section 3, `review_in_days`: "when to see a professional if it is not clearly
  better").
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from support import ALL_CLEAR
from triage.followup import check_in_questionnaire
from triage.rulebook import load_rulebook
from triage.web.app import Settings, create_app, purge_expired
from triage.web.clinic import accounts
from triage.web.clinic.models import AuditEvent
from triage.web.db import CheckIn, PatientSession, digest
from web_support import Browser, FormReader, form_value

RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
PASSWORD = "correct horse battery"

# a 40-year-old, two weeks of pain, no warning sign: self-care (NICE NG59: stay active), with
# one activity the pain makes hard, scored 3 out of 10
FIRST_VISIT = {**ALL_CLEAR, "pain_score": 6, "activity_1": "Sitting through a film",
               "activity_1_score": 3}
CHECK_IN_QUESTIONS = check_in_questionnaire(RULEBOOK, FIRST_VISIT)
NOTHING_NEW = {qid: form_value(q, next(v for v in q.values if v not in q.alarming))
               for qid, q in CHECK_IN_QUESTIONS.questions.items() if q.red_flag}
IMPROVED = {**NOTHING_NEW, "pain_score": "2", "global_change": "much_better",
            "activity_1_score": "8"}
UNCHANGED = {**NOTHING_NEW, "pain_score": "6", "global_change": "same", "activity_1_score": "3"}


def text_of(html: str) -> str:
    html = html[html.index("<main"):html.index("</main>")] if "<main" in html else html
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def app(database_url):
    return create_app(Settings(database_url=database_url))


@pytest.fixture
def sqlite_app(tmp_path):
    return create_app(Settings(database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}"))


class Person:
    """One person with a browser that runs no JavaScript: the first visit, the follow-up code,
    check-ins; every form, link and radio read from the pages."""

    def __init__(self, client):
        self.client = client
        self.code = self.link = None
        self.pages: list[tuple[str, int]] = []

    def first_visit(self, answers=FIRST_VISIT):
        walk = Browser(self.client, QUESTIONNAIRE).walk(answers)
        assert walk.last.status_code == 200 and not walk.server_errors, walk.responses
        return walk.last

    def get_code(self, result_page):
        form = FormReader(result_page.text).form("/follow-up/code")
        page = self.client.post(form.action, data=form.hidden)
        assert page.status_code == 200, page.text[:500]
        self.code = re.search(r'id="follow-up-code">([^<]+)<', page.text).group(1)
        self.link = re.search(r'class="follow-up-link"><a href="([^"]+)"', page.text).group(1)
        return page

    def open_link(self, code: str | None = None):
        url = self.link.replace("http://testserver", "") if code is None else \
            f"/follow-up?code={code}"
        return self.client.get(url)

    def start_check_in(self, code: str | None = None):
        page = self.open_link(code)
        form = FormReader(page.text).form("/follow-up")
        value = re.search(r'id="code"[^>]*value="([^"]*)"', page.text, re.S).group(1)
        return self.client.post(form.action, data={**form.hidden, "code": value},
                                follow_redirects=True)

    def check_in(self, answers: dict, code: str | None = None):
        """Start with the link, press Start, answer each page from `answers` (by the form's
        question id; a question not in it: "I'm not sure" or empty); the last page."""
        page = self.start_check_in(code)
        assert page.status_code == 200 and str(page.url).endswith("/follow-up/check-in"), \
            (page.status_code, page.url)
        self.intro = page
        start = re.search(r'class="button button--start" href="([^"]+)"', page.text).group(1)
        page = self.client.get(start)
        self.asked = []
        for _ in range(100):
            forms = [f for f in FormReader(page.text).forms
                     if f.action.startswith("/follow-up/question/")]
            if not forms:
                return page
            form = forms[0]
            qid = form.action.rsplit("/", 1)[1]
            self.asked.append(qid)
            if form.radios:
                (name, options), = form.radios.items()
                wanted = answers.get(qid, "__not_sure__")
                assert wanted in [v for v, _ in options], (qid, wanted, options)
            else:
                (name,) = form.texts
                wanted = answers.get(qid, "")
            page = self.client.post(form.action, data={**form.hidden, name: wanted},
                                    follow_redirects=True)
            assert page.status_code == 200, (qid, page.status_code, page.text[:1000])
        raise AssertionError("the check-in did not end")


def days_ago(app, submission_id: str, days: int) -> None:
    """The first visit was `days` ago (the person comes back later): every time of the row
    moves back, as it would have been stored then."""
    with app.state.db() as db:
        row = db.get(PatientSession, submission_id)
        shift = dt.timedelta(days=days)
        row.submitted_at -= shift
        row.created_at -= shift
        row.updated_at -= shift
        if row.follow_up_due_at is not None:
            row.follow_up_due_at -= shift
        db.commit()


def only_submission(app) -> PatientSession:
    with app.state.db() as db:
        rows = list(db.scalars(select(PatientSession).where(
            PatientSession.submitted_at.is_not(None))))
    assert len(rows) == 1
    return rows[0]


def sign_in(client, name="alice"):
    page = client.get("/clinic/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/clinic/sign-in", data={"name": name, "password": PASSWORD,
                                                    "next": "/clinic", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:500]


def add_staff(app):
    with app.state.db() as db:
        accounts.add_user(db, "alice", PASSWORD, actor="test")
        accounts.add_user(db, "root-admin", PASSWORD, role="admin", actor="test")
        db.commit()


# --------------------------------------------------------------------------- the journeys

def test_a_first_visit_offers_a_follow_up_and_an_improving_check_in_shows_the_course(app):
    with TestClient(app) as client:
        person = Person(client)
        result = person.first_visit()
        words = text_of(result.text)
        submission = only_submission(app)
        assert submission.urgency == "self_care"
        due = submission.submitted_at.date() + dt.timedelta(
            days=submission.assessment["review_in_days"])
        long_due = f"{due.day} {due:%B %Y}"
        assert f"Check in with us on {long_due}" in words
        code_page = person.get_code(result)
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", person.code)
        assert person.link.endswith("/follow-up?code=" + person.code)
        assert long_due in text_of(code_page.text)
        # only the code's digest is stored, never the code
        stored = only_submission(app)
        assert stored.follow_up_code_hash == digest(person.code.replace("-", ""))
        assert person.code.replace("-", "") not in repr(stored.__dict__)

        client.cookies.clear()  # another day, another device: only the link
        page = person.check_in(IMPROVED)
        assert str(page.url).endswith("/follow-up/result")
        # the emergency screen first, then pain, change, the activity, the other signs
        first_checks = [q for q in person.asked if q in CHECK_IN_QUESTIONS.sections[0].questions]
        assert "chest_pain" in first_checks and "saddle_numbness" not in first_checks
        assert person.asked[:len(first_checks)] == first_checks
        assert person.asked[len(first_checks):len(first_checks) + 3] == \
            ["pain_score", "global_change", "activity_1_score"]
        assert "saddle_numbness" in person.asked and "leg_weakness" in person.asked
        assert "Sitting through a film" in text_of(person.intro.text)
        assert "This is early" in text_of(person.intro.text)  # before the review date
        words = text_of(page.text)
        assert "Your check-in result: Self-care" in words
        assert "same as at your first visit" in words
        assert "checked in early" in words
        # the course: the chart and a table with both visits' numbers
        assert "<svg" in page.text and 'role="img"' in page.text
        table = page.text[page.text.index("<table"):page.text.index("</table>")]
        assert "First visit" in table and "Check-in 1" in table
        assert re.search(r">\s*6\s*<", table) and re.search(r">\s*2\s*<", table)
        with app.state.db() as db:
            (check_in,) = db.scalars(select(CheckIn)).all()
            assert check_in.urgency == "self_care" and check_in.completed_at is not None
            assert check_in.answers["pain_score"] == 2
            assert check_in.answers["global_change"] == "much_better"
            row = db.get(PatientSession, submission.id)
            assert row.follow_up_course == "better" and row.escalated_at is None
            audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "check_in")).all()
            assert [e.submission_id for e in audit] == [submission.id]
            assert audit[0].detail is None  # no answers, no outcome in the trail


def test_a_new_warning_sign_escalates_and_the_clinic_sees_it_as_new(app):
    add_staff(app)
    sent = []
    with TestClient(app) as client:
        from triage.web.clinic import notify

        app.state.notify = notify.Channels(webhook="http://127.0.0.1:9/hook")
        original = notify.send_webhook
        notify.send_webhook = lambda channels, payload: sent.append(payload)
        try:
            person = Person(client)
            person.get_code(person.first_visit())
            submission = only_submission(app)
            client.cookies.clear()
            # worsening leg weakness: a progressive deficit, urgent (NICE NG59 1.1)
            page = person.check_in({**UNCHANGED, "leg_weakness": "worsening"})
            for thread in getattr(app.state, "notify_threads", []):
                thread.join(10)
        finally:
            notify.send_webhook = original
        words = text_of(page.text)
        assert "Your check-in result: Urgent" in words
        assert "This has changed since your first visit" in words
        assert "Your first result was: Self-care" in words
        # the notification: reference, urgency and link, nothing else
        assert sent == [{"reference": submission.reference, "urgency": "urgent",
                         "link": f"http://127.0.0.1:8000/clinic/submissions/{submission.id}"}]

        clinic = TestClient(app)
        sign_in(clinic)
        queue = clinic.get("/clinic")
        rows = re.findall(r'<tr class="queue__row queue__row--(\w+)"', queue.text)
        assert rows == ["urgent"]  # listed with the check-in's urgency
        assert "Check-in: worse, now urgent (was self-care)" in text_of(queue.text)
        worse = clinic.get("/clinic?follow_up=worse")
        assert submission.reference in worse.text
        assert submission.reference not in clinic.get("/clinic?follow_up=missed").text
        assert submission.reference in clinic.get("/clinic?urgency=urgent").text
        page = clinic.get(f"/clinic/submissions/{submission.id}")
        words = text_of(page.text)
        assert "Check-in 1" in words and "escalated" in words
        assert "course-table" in page.text and "<svg" in page.text


def test_a_new_emergency_sign_shows_the_emergency_page_at_once(app):
    add_staff(app)
    with TestClient(app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        # saddle numbness: cauda equina, an emergency (NICE CKS back pain, red flags)
        page = person.check_in({**UNCHANGED, "saddle_numbness": "yes"})
        assert str(page.url).endswith("/follow-up/emergency")
        assert person.asked[-1] == "saddle_numbness"  # no question after it
        assert "Your result: Emergency" in text_of(page.text)
        assert "tel:" in page.text
        assert 'href="/report"' not in page.text  # the first visit's report is not this device's
        # the check-in stays an emergency: its questions are closed
        again = client.get("/follow-up/question/pain_score", follow_redirects=False)
        assert again.headers["location"] == "/follow-up/emergency"
        with app.state.db() as db:
            (check_in,) = db.scalars(select(CheckIn)).all()
            assert check_in.urgency == "emergency"
        clinic = TestClient(app)
        sign_in(clinic)
        rows = re.findall(r'<tr class="queue__row queue__row--(\w+)"', clinic.get("/clinic").text)
        assert rows == ["emergency"]


def test_no_improvement_after_the_review_date_makes_self_care_soon(app):
    with TestClient(app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        submission = only_submission(app)
        days_ago(app, submission.id, submission.assessment["review_in_days"] + 2)
        client.cookies.clear()
        page = person.check_in(UNCHANGED)
        assert "This is early" not in text_of(person.intro.text)
        words = text_of(page.text)
        assert "Your check-in result: Soon" in words
        assert "This has changed since your first visit" in words
        with app.state.db() as db:
            row = db.get(PatientSession, submission.id)
            assert row.follow_up_urgency == "soon"
            assert row.escalated_at is None  # soon is not notified as new


def test_an_early_check_in_with_no_improvement_stays_self_care(sqlite_app):
    """Before the review date, "no better yet" is not a reason to be seen (contract section 3:
    the review date is when to see someone if it is not clearly better)."""
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        page = person.check_in(UNCHANGED)
        assert "Your check-in result: Self-care" in text_of(page.text)


def test_the_clinic_sees_a_missed_check_in(app):
    add_staff(app)
    with TestClient(app) as client:
        person = Person(client)
        person.first_visit()
        submission = only_submission(app)
        clinic = TestClient(app)
        sign_in(clinic)
        assert submission.reference not in clinic.get("/clinic?follow_up=missed").text
        assert "Check-in due" in text_of(clinic.get("/clinic").text)
        days_ago(app, submission.id, submission.assessment["review_in_days"] + 1)
        missed = clinic.get("/clinic?follow_up=missed")
        assert submission.reference in missed.text
        assert "Check-in missed" in text_of(missed.text)
        page = clinic.get(f"/clinic/submissions/{submission.id}")
        assert "Check-in missed" in text_of(page.text)


def test_an_urgent_first_visit_offers_no_follow_up(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        result = person.first_visit({**ALL_CLEAR, "leg_weakness": "worsening"})
        assert "Check in with us" not in result.text
        assert "/follow-up/code" not in result.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', result.text).group(1)
        refused = client.post("/follow-up/code", data={"csrf_token": token},
                              follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"] == "/result"


# --------------------------------------------------------------------------- the code

def test_a_wrong_code_is_refused_and_guessing_is_rate_limited(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        right = person.code
        client.cookies.clear()
        page = client.get("/follow-up")
        form = FormReader(page.text).form("/follow-up")
        wrong = ("0000000000" if right.replace("-", "") != "0000000000" else "1111111111")
        refused = client.post("/follow-up", data={**form.hidden, "code": wrong})
        assert refused.status_code == 400
        assert "Enter the code exactly as it was shown" in text_of(refused.text)
        assert not client.cookies.get("triage_follow_up")
        empty = client.post("/follow-up", data={**form.hidden, "code": " "})
        assert empty.status_code == 400 and "Enter your follow-up code" in text_of(empty.text)
        for _ in range(9):
            client.post("/follow-up", data={**form.hidden, "code": wrong})
        blocked = client.post("/follow-up", data={**form.hidden, "code": right})
        assert blocked.status_code == 429  # even the right code waits
        assert "Wait 15 minutes" in text_of(blocked.text)
        with sqlite_app.state.db() as db:
            failed = db.scalars(select(AuditEvent).where(
                AuditEvent.action == "follow_up_code_failed")).all()
            assert len(failed) == 10
            assert all(wrong not in (e.detail or "") for e in failed)


def test_the_code_is_read_as_the_resume_code_is_and_a_new_one_replaces_it(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        result = person.first_visit()
        person.get_code(result)
        old = person.code
        person.get_code(client.get("/result"))
        assert person.code != old
        client.cookies.clear()
        page = client.get("/follow-up")
        form = FormReader(page.text).form("/follow-up")
        assert client.post("/follow-up", data={**form.hidden, "code": old}).status_code == 400
        typed = person.code.lower().replace("-", " ")  # lower case, a space: still the code
        started = client.post("/follow-up", data={**form.hidden, "code": typed},
                              follow_redirects=False)
        assert started.status_code == 303 and started.headers["location"] == "/follow-up/check-in"


def test_the_check_in_pages_need_their_own_cookie_and_the_csrf_token(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        for path in ("/follow-up/check-in", "/follow-up/question/chest_pain",
                     "/follow-up/result", "/follow-up/emergency"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/follow-up"
        page = person.start_check_in()
        assert str(page.url).endswith("/follow-up/check-in")
        forged = client.post("/follow-up/question/chest_pain", data={"answer": "no",
                                                                     "csrf_token": "x" * 43})
        assert forged.status_code == 403
        with sqlite_app.state.db() as db:
            (check_in,) = db.scalars(select(CheckIn)).all()
            assert check_in.answers == {}
        # no skipping ahead to a later question
        ahead = client.get("/follow-up/question/pain_score", follow_redirects=False)
        assert ahead.status_code == 303
        assert ahead.headers["location"] == "/follow-up/question/chest_pain"


def test_a_check_in_answer_out_of_range_is_asked_again(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        person.start_check_in()
        page = client.get("/follow-up/question/chest_pain")
        token = FormReader(page.text).form("/follow-up/question/").hidden["csrf_token"]
        for qid in CHECK_IN_QUESTIONS.sections[0].questions:
            client.post(f"/follow-up/question/{qid}", data={"csrf_token": token,
                                                            "answer": NOTHING_NEW[qid]})
        page = client.post("/follow-up/question/pain_score",
                           data={"csrf_token": token, "answer": "11"})
        assert page.status_code == 400
        assert "11 is out of range" in text_of(page.text)


# --------------------------------------------------------------------------- retention

def test_check_ins_are_deleted_with_their_submission(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        person.check_in(IMPROVED)
        submission = only_submission(sqlite_app)
        # the check-in counts as a change: the clinic's retention counts from it
        purge_expired(sqlite_app, now=submission.updated_at.replace(tzinfo=dt.timezone.utc)
                      + dt.timedelta(days=29))
        with sqlite_app.state.db() as db:
            assert db.scalars(select(CheckIn)).all()
        purge_expired(sqlite_app, now=submission.updated_at.replace(tzinfo=dt.timezone.utc)
                      + dt.timedelta(days=31))
        with sqlite_app.state.db() as db:
            assert db.scalars(select(PatientSession)).all() == []
            assert db.scalars(select(CheckIn)).all() == []
        # the link's code now matches nothing
        client.cookies.clear()
        page = person.start_check_in()
        assert page.status_code == 400


# --------------------------------------------------------------------------- clinic access

def test_the_clinic_course_is_behind_the_clinic_sign_in(sqlite_app):
    add_staff(sqlite_app)
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        person.check_in(IMPROVED)
        submission = only_submission(sqlite_app)
        url = f"/clinic/submissions/{submission.id}"
        # a patient's follow-up cookie opens nothing in the clinic
        refused = client.get(url, follow_redirects=False)
        assert refused.status_code == 303 and "/clinic/sign-in" in refused.headers["location"]
        refused = client.get("/clinic?follow_up=worse", follow_redirects=False)
        assert refused.status_code == 303 and "/clinic/sign-in" in refused.headers["location"]
        # both roles read it, and the view is audited
        for name in ("alice", "root-admin"):
            clinic = TestClient(sqlite_app)
            sign_in(clinic, name)
            page = clinic.get(url)
            assert page.status_code == 200 and "Check-in 1" in text_of(page.text)
            assert f'href="{url}/report?course=1"' in page.text
            report = clinic.get(url + "/report?course=1")
            assert report.status_code == 200 and "Check-in 1" in report.text
            assert "<svg" in report.text
        # a disabled account is refused at once
        clinic = TestClient(sqlite_app)
        sign_in(clinic, "alice")
        with sqlite_app.state.db() as db:
            accounts.disable_user(db, "alice", actor="test")
            db.commit()
        refused = clinic.get(url, follow_redirects=False)
        assert refused.status_code == 303 and "/clinic/sign-in" in refused.headers["location"]
        with sqlite_app.state.db() as db:
            views = db.scalars(select(AuditEvent).where(
                AuditEvent.action == "view_answers",
                AuditEvent.submission_id == submission.id)).all()
            assert {e.actor for e in views} == {"alice", "root-admin"}


def test_an_escalated_check_in_reopens_a_closed_reviewed_submission(sqlite_app):
    """An escalation arrives as a new submission would: a review made before it no longer
    counts, and a closed case is new again (its earlier review and status stay in the trail)."""
    add_staff(sqlite_app)
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        submission = only_submission(sqlite_app)
        clinic = TestClient(sqlite_app)
        sign_in(clinic)
        url = f"/clinic/submissions/{submission.id}"
        token = re.search(r'name="csrf_token" value="([^"]+)"', clinic.get(url).text).group(1)
        clinic.post(url + "/review", data={"csrf_token": token})
        clinic.post(url + "/workflow", data={"csrf_token": token, "status": "closed"})
        assert submission.reference in clinic.get("/clinic?reviewed=yes").text
        assert submission.reference not in clinic.get("/clinic?status=new").text
        client.cookies.clear()
        person.check_in({**UNCHANGED, "leg_weakness": "worsening"})
        assert submission.reference in clinic.get("/clinic?reviewed=no").text
        assert submission.reference not in clinic.get("/clinic?reviewed=yes").text
        assert submission.reference in clinic.get("/clinic?status=new").text
        page = clinic.get(url)
        assert "before the check-in that escalated it" in text_of(page.text)
        assert "Mark reviewed" in page.text
        clinic.post(url + "/review", data={"csrf_token": token})
        assert submission.reference in clinic.get("/clinic?reviewed=yes").text
        with sqlite_app.state.db() as db:
            statuses = [(e.actor, e.detail) for e in db.scalars(select(AuditEvent).where(
                AuditEvent.action == "status").order_by(AuditEvent.id))]
            assert statuses == [("alice", "closed"), ("system", "new (a check-in escalated it)")]
            reviews = db.scalars(select(AuditEvent).where(AuditEvent.action == "review")).all()
            assert len(reviews) == 2


def test_the_report_after_a_check_in_shows_the_course(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        result = person.check_in(IMPROVED)
        assert 'href="/follow-up/report"' in result.text
        report = client.get("/follow-up/report")
        assert report.status_code == 200
        assert "script-src" not in report.headers["content-security-policy"]
        assert "Check-in 1" in report.text and "<svg" in report.text
        assert 'href="/follow-up/result"' in report.text  # the way back
