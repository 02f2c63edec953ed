"""`triage serve` in a real browser: Debian's Chromium driven by Playwright, against a server
started on 127.0.0.1 and a free port. The desk-worker journey by keyboard alone, an emergency
stop, back and change, a reload mid-way, the resume code, and axe-core on every page type at
phone and desktop widths and at 200% zoom."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from browser import (DESKTOP, NARROWEST, PHONE, answer_by_keyboard, answer_by_mouse,
                     axe_violations, no_sideways_scroll, open_page, running_chromium, tab_to)
from support import ALL_CLEAR
from triage.engine import assess
from triage.rulebook import load_rulebook
from web_support import Server

ROOT = Path(__file__).resolve().parent.parent
RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
DESK_WORKER = yaml.safe_load((ROOT / "examples" / "desk_worker.yaml").read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    database = tmp_path_factory.mktemp("web") / "browser.sqlite3"
    with Server(f"sqlite:///{database}") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with running_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    with open_page(browser, viewport=DESKTOP) as opened:
        yield opened


def current_question(page) -> str | None:
    match = re.search(r"/question/([a-z_0-9]+)", page.url)
    return match.group(1) if match else None


def answer_until(page, answers, *, stop_at=None, keyboard=False, seen=None) -> None:
    while (qid := current_question(page)) is not None and qid != stop_at:
        if seen is not None:
            seen.append(qid)
        question = QUESTIONNAIRE.questions[qid]
        (answer_by_keyboard if keyboard else answer_by_mouse)(page, question, answers.get(qid))


def start(page, server) -> None:
    page.goto(server.url + "/")
    with page.expect_navigation():
        page.click("text=Start now")


def test_the_desk_worker_journey_to_the_report_by_keyboard_alone(page, server):
    page.goto(server.url + "/")
    tab_to(page, "button.button--start")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert current_question(page) == "age"
    assert page.locator(".progress").inner_text().startswith("Question 1 of ")
    seen = []
    answer_until(page, DESK_WORKER, keyboard=True, seen=seen)
    assert page.url.endswith("/check-answers")
    assert page.locator("h1").inner_text() == "Check your answers"
    tab_to(page, "form[action='/submit'] button", limit=200)  # a Change link per answer (v3: 61 questions)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/result")
    expected = assess(QUESTIONNAIRE.validate(DESK_WORKER), RULEBOOK)
    assert "Self-care" in page.locator(".verdict__label").text_content()
    assert expected.urgency == "self_care"
    with page.expect_navigation():
        page.click("text=View and print your report")
    assert "Back pain triage report" in page.title()
    body = page.locator("body").inner_text()
    for stretch in expected.stretches:
        assert RULEBOOK.stretches[stretch].name in body


def test_an_emergency_stops_the_questions_with_a_call_button(page, server):
    start(page, server)
    answers = {"age": 60, "sex": "male", "duration_weeks": 1, "onset": "sudden",
               "trauma": "none", "saddle_numbness": True}
    answer_until(page, answers, stop_at=None)
    # NICE CKS: saddle numbness is a sign of cauda equina syndrome, an emergency
    assert page.url.endswith("/emergency")
    call = page.locator("a[href^='tel:']")
    assert call.is_visible() and call.inner_text().startswith("Call ")
    assert page.locator("form").count() == 0 and page.locator("footer").count() == 0
    box = call.bounding_box()
    assert box["height"] >= 44  # a target big enough to tap
    assert axe_violations(page) == []


def asked_order(answers) -> list[str]:
    """The questions the flow asks, in order, for these answers (skip logic applied)."""
    given = QUESTIONNAIRE.parse_given(answers)
    return [qid for section in QUESTIONNAIRE.sections for qid in section.questions
            if not QUESTIONNAIRE.is_skipped(qid, given)]


def test_back_and_change(page, server):
    order = asked_order(DESK_WORKER)
    after = order[order.index("duration_weeks") + 1]
    start(page, server)
    answer_until(page, DESK_WORKER, stop_at=after)
    with page.expect_navigation():
        page.click("a.back-link")
    assert current_question(page) == "duration_weeks"
    assert page.input_value("#answer") == "2"
    with page.expect_navigation():
        page.click("a.back-link")
    assert current_question(page) == "sex"
    assert page.is_checked("input[value=female]")
    answer_by_mouse(page, QUESTIONNAIRE.questions["sex"], "male")
    # forward again: the questions already answered come back with their answers
    assert current_question(page) == after
    answer_until(page, DESK_WORKER)
    assert page.url.endswith("/check-answers")
    row = page.locator(".summary-list__row", has_text="What is your sex?")
    assert "Male" in row.inner_text()
    with page.expect_navigation():
        row.locator("a", has_text="Change").click()
    assert "Back to your answers" in page.locator(".back-link").inner_text()
    answer_by_mouse(page, QUESTIONNAIRE.questions["sex"], "female")
    # the change brings back a question that applies again (pregnancy), then the check page
    newly = [q for q in asked_order(DESK_WORKER) if q not in asked_order(
        dict(DESK_WORKER, sex="male"))]
    for qid in newly:
        assert current_question(page) == qid
        answer_by_mouse(page, QUESTIONNAIRE.questions[qid], DESK_WORKER.get(qid))
    assert page.url.endswith("/check-answers")
    assert "Female" in page.locator(".summary-list__row", has_text="What is your sex?").inner_text()


def test_a_reload_or_a_closed_tab_mid_way_loses_nothing(page, server):
    start(page, server)
    answer_until(page, DESK_WORKER, stop_at="fever")
    page.reload()
    assert current_question(page) == "fever"
    tab = page.context.new_page()  # the person closes the tab and comes back later
    page.close()
    tab.goto(server.url + "/")
    with tab.expect_navigation():
        tab.click("text=Continue where you left off")
    assert current_question(tab) == "fever"
    with tab.expect_navigation():
        tab.click("a.back-link")
    assert tab.is_checked("input[value=no]")  # the answer before is still there


def test_the_resume_code_continues_on_another_device(page, server, browser):
    start(page, server)
    answer_until(page, DESK_WORKER, stop_at="weight_loss")
    with page.expect_navigation():
        page.click("text=Save and come back later")
    with page.expect_navigation():
        page.get_by_role("button", name="Get a resume code").click()
    code = page.locator("#resume-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", code)
    other = browser.new_context(viewport=PHONE).new_page()
    other.goto(server.url + "/resume")
    other.fill("#code", code.lower())
    with other.expect_navigation():
        other.click("button[type=submit]")
    assert current_question(other) == "weight_loss"
    other.context.close()


def test_errors_are_announced_and_lead_to_the_field(page, server):
    start(page, server)
    page.fill("#answer", "two hundred")
    with page.expect_navigation():
        page.click("button[type=submit]")
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    page.click(".error-summary a")
    assert page.evaluate("document.activeElement.id") == "answer"
    assert axe_violations(page) == []


# --------------------------------------------------------------------------- every page type

def visit_every_page_type(page, server):
    """Yield (name, page) at each page type of the journey."""
    page.goto(server.url + "/")
    yield "start"
    with page.expect_navigation():
        page.click("text=Start now")
    yield "question-number"
    answer_until(page, DESK_WORKER, stop_at="sex")
    yield "question-radios"
    answer_until(page, DESK_WORKER, stop_at="notes")
    yield "question-text"
    answer_by_mouse(page, QUESTIONNAIRE.questions["notes"], DESK_WORKER["notes"])
    answer_until(page, DESK_WORKER)  # the activities after the notes (issue 25), left blank
    yield "check-answers"
    page.goto(server.url + "/save")
    yield "save"
    with page.expect_navigation():
        page.get_by_role("button", name="Get a resume code").click()
    yield "resume-code"
    page.goto(server.url + "/check-answers")
    with page.expect_navigation():
        page.click("form[action='/submit'] button")
    yield "result"
    page.goto(server.url + "/report")
    yield "report"
    page.goto(server.url + "/resume")
    yield "resume"
    with page.expect_navigation():
        page.click("button[type=submit]")
    yield "error"
    page.goto(server.url + "/privacy")
    yield "privacy"
    page.goto(server.url + "/no-such-page")
    yield "not-found"
    page.goto(server.url + "/resume")
    page.evaluate("document.querySelector('input[name=csrf_token]').value = 'forged'")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "This page has expired"
    yield "refused"
    page.context.add_cookies([{"name": "triage_session", "value": "x" * 43,
                               "url": server.url}])
    page.goto(server.url + "/question/age")
    assert page.locator("h1").inner_text() == "Your answers are no longer saved"
    yield "expired"
    # a check continued on another device: this browser is told so (issue 20)
    page.context.clear_cookies()
    page.goto(server.url + "/")
    with page.expect_navigation():
        page.click("text=Start now")
    answer_until(page, DESK_WORKER, stop_at="sex")
    page.goto(server.url + "/save")
    with page.expect_navigation():
        page.get_by_role("button", name="Get a resume code").click()
    code = page.locator("#resume-code").inner_text()
    other = page.context.browser.new_context()
    try:
        elsewhere = other.new_page()
        elsewhere.goto(server.url + "/resume")
        elsewhere.fill("#code", code)
        with elsewhere.expect_navigation():
            elsewhere.click("button[type=submit]")
    finally:
        other.close()
    page.goto(server.url + "/question/sex")
    assert page.locator("h1").inner_text() == "Your check continued on another device"
    yield "moved"
    # an emergency, in a fresh session
    page.context.clear_cookies()
    page.goto(server.url + "/")
    with page.expect_navigation():
        page.click("text=Start now")
    answer_until(page, {"age": 60, "duration_weeks": 1, "trauma": "none",
                        "saddle_numbness": True})
    assert page.url.endswith("/emergency")
    yield "emergency"


@pytest.mark.parametrize("viewport,scale", [(NARROWEST, 1), (PHONE, 1), (DESKTOP, 1),
                                            ({"width": 640, "height": 450}, 2)],
                         ids=["320px", "phone-390px", "desktop-1280px",
                              "desktop-at-200-percent-zoom"])
def test_axe_finds_no_violation_on_any_page_type_and_nothing_scrolls_sideways(
        browser, server, viewport, scale):
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    page = context.new_page()
    page.set_default_timeout(15000)
    seen = []
    try:
        for name in visit_every_page_type(page, server):
            seen.append(name)
            assert axe_violations(page) == [], name
            # the report is laid out for paper, in one column on a phone
            if name != "report" or viewport["width"] < 700:
                assert no_sideways_scroll(page), name
    finally:
        context.close()
    assert len(seen) == 17


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_violation_on_the_api_documentation(browser, server, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(server.url + "/docs")
        assert page.locator(".docs-operation").count() >= 3  # assess, questionnaire, healthz
        assert axe_violations(page) == []  # every rule, as on every other page
        page.set_viewport_size({"width": 320, "height": 640})
        assert no_sideways_scroll(page)
    finally:
        context.close()


# --------------------------------------------------------------------------- one journey per urgency

JOURNEYS = {
    # NICE CKS (sciatica): saddle numbness is cauda equina until shown otherwise: emergency
    "emergency": {**ALL_CLEAR, "saddle_numbness": True},
    # NICE CKS (low back pain): fever with back pain suggests spinal infection: same day
    "urgent": {**ALL_CLEAR, "fever": True},
    # contract section 3: pain for 14 weeks is chronic, which the policy sends to "soon"
    "soon": {**ALL_CLEAR, "duration_weeks": 14},
    # NICE NG59: no warning sign, two weeks: self-care with exercise
    "self_care": dict(ALL_CLEAR),
}


def body_font_sizes(page) -> list[float]:
    """The computed font size (CSS px) of every paragraph and list item of the report."""
    return page.eval_on_selector_all(
        ".sheet p, .sheet li", "els => els.filter(e => e.offsetParent !== null && "
        "e.textContent.trim()).map(e => parseFloat(getComputedStyle(e).fontSize))")


@pytest.mark.parametrize("urgency", list(JOURNEYS))
def test_one_journey_per_urgency_at_phone_width_reaches_its_advice(browser, server, urgency):
    answers = JOURNEYS[urgency]
    expected = assess(answers, RULEBOOK)
    assert expected.urgency == urgency
    with open_page(browser, viewport=PHONE) as page:
        start(page, server)
        answer_until(page, answers)
        if urgency == "emergency":
            assert page.url.endswith("/emergency")
            assert "emergency" in page.locator(".emergency__label").inner_text().lower()
            back = "Back to your emergency advice"
        else:
            assert page.url.endswith("/check-answers")
            with page.expect_navigation():
                page.click("form[action='/submit'] button")
            assert page.url.endswith("/result")
            from triage.report import report_facts

            label = report_facts(expected, RULEBOOK)["verdict"]["label"]
            assert label.lower() in page.locator(".verdict__label").inner_text().lower()
            back = "Back to your result"
        assert axe_violations(page) == []
        assert no_sideways_scroll(page)
        # the report, on the phone: readable text, a way back, how to print
        with page.expect_navigation():
            page.click("a[href='/report']")
        sizes = body_font_sizes(page)
        assert sizes and min(sizes) >= 16, sorted(sizes)[:5]
        assert page.get_by_role("link", name=back).is_visible()
        assert "Print" in page.locator(".web-nav").inner_text()
        assert axe_violations(page) == []
        assert no_sideways_scroll(page)
        with page.expect_navigation():
            page.get_by_role("link", name=back).click()
        assert page.url.endswith("/emergency" if urgency == "emergency" else "/result")


def test_the_printed_report_keeps_its_paper_layout(browser, server):
    with open_page(browser, viewport=PHONE) as page:
        start(page, server)
        answer_until(page, JOURNEYS["soon"])
        with page.expect_navigation():
            page.click("form[action='/submit'] button")
        page.goto(server.url + "/report")
        page.emulate_media(media="print")
        sizes = body_font_sizes(page)
        assert max(sizes) < 16  # points sized for A4, not the phone's 16 px
        assert not page.locator(".web-nav").is_visible()  # not printed


def test_the_pregnancy_emergency_leads_with_the_maternity_unit(browser, server):
    # RF-PREGNANCY-01 (NHS: bleeding in pregnancy): phone the maternity unit first; the
    # emergency number follows, never a big button above that first step
    answers = {**ALL_CLEAR, "age": 30, "sex": "female", "pregnant": True,
               "pregnancy_symptoms": True}
    with open_page(browser, viewport=PHONE) as page:
        start(page, server)
        answer_until(page, answers)
        assert page.url.endswith("/emergency")
        first_step = page.locator(".emergency__actions li").first
        assert "maternity unit" in first_step.inner_text()
        call = page.locator("a[href^='tel:']").first
        assert call.bounding_box()["y"] > first_step.bounding_box()["y"]
        assert axe_violations(page) == []
