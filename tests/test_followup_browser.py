"""Follow-up check-ins (issue 25) in a real browser: Debian's Chromium driven by Playwright
against `triage serve` on 127.0.0.1, at 390 px (a phone). A first visit, the follow-up code, a
check-in on another device, the result with its course, an emergency at a check-in, and the
clinic's course view, each page checked with axe-core and for sideways scrolling.

With TRIAGE_SCREENSHOTS=DIR the pages are also saved as DIR/follow-up-*.png at phone and desktop
width (examples/web/ holds the project's copies):

    TRIAGE_SCREENSHOTS=examples/web pytest tests/test_followup_browser.py
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from browser import (DESKTOP, PHONE, answer_by_mouse, axe_violations, no_sideways_scroll,
                     open_page, running_chromium)
from support import ALL_CLEAR
from triage.followup import check_in_questionnaire
from triage.rulebook import load_rulebook
from triage.web.clinic import accounts
from triage.web.db import make_engine, migrate, session_factory
from web_support import Server

RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
PASSWORD = "correct horse battery"
FIRST_VISIT = {**ALL_CLEAR, "pain_score": 6, "activity_1": "Sitting through a film",
               "activity_1_score": 3, "activity_2": "Lifting my daughter",
               "activity_2_score": 4}
CHECK_IN = check_in_questionnaire(RULEBOOK, FIRST_VISIT)
NOTHING_NEW = {qid: next(v for v in q.values if v not in q.alarming)
               for qid, q in CHECK_IN.questions.items() if q.red_flag}
IMPROVED = {**NOTHING_NEW, "pain_score": 3, "global_change": "better", "activity_1_score": 7,
            "activity_2_score": 6}
SHOTS = os.environ.get("TRIAGE_SCREENSHOTS")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('followup') / 'browser.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine)() as db:
        accounts.add_user(db, "alice", PASSWORD, actor="test")
        db.commit()
    engine.dispose()
    with Server(url) as running:
        running.database_url = url
        yield running


def first_visit_days_ago(server, days: int) -> None:
    """The first visit was `days` ago (the person checks in later): its times move back."""
    import datetime as dt

    from sqlalchemy import select

    from triage.web.db import PatientSession

    engine = make_engine(server.database_url)
    with session_factory(engine)() as db:
        for row in db.scalars(select(PatientSession).where(
                PatientSession.submitted_at.is_not(None))):
            shift = dt.timedelta(days=days)
            row.submitted_at -= shift
            row.created_at -= shift
            row.updated_at -= shift
            row.follow_up_due_at -= shift
        db.commit()
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with running_chromium() as chromium:
        yield chromium


def checked(page, name: str, *, part: str | None = None) -> None:
    """axe-core finds nothing, the page fits the phone's width (and the desktop's); saved when
    asked, the whole page or only the element `part`."""
    assert axe_violations(page) == [], page.url
    assert no_sideways_scroll(page), page.url
    for size, words in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page.set_viewport_size(size)
        assert no_sideways_scroll(page), (page.url, words)
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            path = str(Path(SHOTS) / f"follow-up-{name}-{words}.png")
            if part:
                page.locator(part).screenshot(path=path)
            else:
                page.screenshot(path=path, full_page=True)
    page.set_viewport_size(PHONE)


def answer_first_visit(page, server) -> None:
    page.goto(server.url + "/")
    with page.expect_navigation():
        page.click("text=Start now")
    while (match := re.search(r"/question/([a-z_0-9]+)$", page.url)) is not None:
        question = QUESTIONNAIRE.questions[match.group(1)]
        answer_by_mouse(page, question, FIRST_VISIT.get(question.id))
    assert page.url.endswith("/check-answers")
    with page.expect_navigation():
        page.click("form[action='/submit'] button")
    assert page.url.endswith("/result")


def answer_check_in(page, answers: dict, *, shots: dict | None = None) -> list[str]:
    asked = []
    while (match := re.search(r"/follow-up/question/([a-z_0-9]+)$", page.url)) is not None:
        qid = match.group(1)
        asked.append(qid)
        if shots and qid in shots:
            checked(page, shots[qid])
        answer_by_mouse(page, CHECK_IN.questions[qid], answers.get(qid))
    return asked


def test_a_check_in_on_a_phone_from_the_code_to_the_course(browser, server):
    with open_page(browser, viewport=PHONE) as page:
        answer_first_visit(page, server)
        assert "Check in with us on" in page.locator("#follow-up").inner_text()
        with page.expect_navigation():
            page.get_by_role("button", name="Get your follow-up link and code").click()
        code = page.locator("#follow-up-code").inner_text().strip()
        link = page.locator(".follow-up-link a").get_attribute("href")
        assert link.endswith("/follow-up?code=" + code)
        checked(page, "code")
    first_visit_days_ago(server, 10)  # the review date is 14 days after it: 4 days early

    with open_page(browser, viewport=PHONE) as page:  # another device: the link only
        page.goto(link)
        assert page.get_by_label("Check in after your first visit").input_value() == code
        checked(page, "start")
        with page.expect_navigation():
            page.get_by_role("button", name="Start your check-in").click()
        assert page.url.endswith("/follow-up/check-in")
        assert "This is early" in page.locator("main").inner_text()
        assert "in 4 days" in page.locator("main").inner_text()
        checked(page, "intro")
        with page.expect_navigation():
            page.get_by_role("link", name="Start").click()
        asked = answer_check_in(page, IMPROVED, shots={
            "chest_pain": "question-emergency-screen", "pain_score": "question-pain",
            "global_change": "question-change", "activity_1_score": "question-activity"})
        assert asked.index("chest_pain") < asked.index("pain_score") < \
            asked.index("activity_2_score") < asked.index("saddle_numbness")
        assert page.url.endswith("/follow-up/result")
        main = page.locator("main").inner_text()
        assert "your check-in result: self-care" in main.lower()
        figure = page.locator("figure.course")
        assert figure.locator("svg[role=img]").count() == 1
        assert "Check-in 1" in figure.locator("table").inner_text()
        checked(page, "result")

    with open_page(browser, viewport=DESKTOP) as page:  # the clinic's course view
        page.goto(server.url + "/clinic")
        page.get_by_label("Account name").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        assert "Check-in: better" in page.locator("table.queue").inner_text()
        with page.expect_navigation():
            page.locator("table.queue tbody tr a.badge").first.click()
        assert "Check-in 1" in page.locator("#follow-up ~ .check-ins").inner_text()
        assert page.locator("figure.course svg[role=img]").count() == 1
        page.set_viewport_size(PHONE)
        checked(page, "clinic-course", part="#follow-up-section")

    with open_page(browser, viewport=PHONE) as page:  # a new emergency sign at a check-in
        page.goto(link)
        with page.expect_navigation():
            page.get_by_role("button", name="Start your check-in").click()
        with page.expect_navigation():
            page.get_by_role("link", name="Start").click()
        asked = answer_check_in(page, {**IMPROVED, "saddle_numbness": True})
        assert asked[-1] == "saddle_numbness"
        assert page.url.endswith("/follow-up/emergency")
        assert "Emergency" in page.locator(".emergency").inner_text()
        checked(page, "emergency")
