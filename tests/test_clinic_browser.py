"""The clinic's pages in a real browser (Debian's Chromium driven by Playwright) against
`triage serve` on 127.0.0.1: signing in, the queue's order with one submission per urgency,
opening a submission and its report, marking it reviewed, an export, and axe-core on every
clinic page type."""
from __future__ import annotations

import json

import pytest

from browser import (DESKTOP, PHONE, axe_violations, no_sideways_scroll, open_page,
                     running_chromium)
from clinic_support import PASSWORD, one_per_urgency
from triage.web.clinic import accounts
from triage.web.db import make_engine, migrate, session_factory
from web_support import Server


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A database with two accounts and one submission per urgency; urgency -> id."""
    url = f"sqlite:///{tmp_path_factory.mktemp('clinic') / 'clinic.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine)() as db:
        accounts.add_user(db, "alice", PASSWORD, actor="test")
        accounts.add_user(db, "admin", PASSWORD, role="admin", actor="test")
        db.commit()
        ids = one_per_urgency(db)
    engine.dispose()
    return url, ids


@pytest.fixture(scope="module")
def server(seeded):
    with Server(seeded[0]) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with running_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    with open_page(browser, viewport=DESKTOP, accept_downloads=True) as opened:
        yield opened


def sign_in(page, server, name="alice", path="/clinic"):
    page.goto(server.url + path)
    assert "/clinic/sign-in" in page.url  # signed out: sent to sign in first
    page.get_by_label("Account name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_sign_in_and_the_queue_in_urgency_order(page, server, seeded):
    _, ids = seeded
    page.goto(server.url + "/clinic/sign-in")
    page.get_by_label("Account name").fill("alice")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    assert "not right" in page.locator(".error-summary").inner_text()
    sign_in(page, server)
    assert page.url.endswith("/clinic")
    assert "Signed in as alice" in page.locator("header").inner_text()
    badges = page.locator("table.queue tbody tr td:nth-child(2)").all_inner_texts()
    assert [b.split(":")[0].strip() for b in badges] == ["Emergency", "Urgent", "Soon",
                                                         "Self-care"]
    rows = page.locator("table.queue tbody tr")
    assert rows.nth(0).get_attribute("data-urgency") == "emergency"
    assert "cauda equina" in rows.nth(0).inner_text()
    # filters without script: urgency and reviewed
    page.get_by_label("Soon", exact=True).check()
    page.get_by_label("Emergency", exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert page.locator("table.queue tbody tr").count() == 2


def test_open_a_submission_its_report_and_mark_it_reviewed(page, server, seeded):
    _, ids = seeded
    sign_in(page, server)
    with page.expect_navigation():
        page.locator("table.queue tbody tr").nth(1).get_by_role("link").click()
    assert page.url.endswith(f"/clinic/submissions/{ids['urgent']}")
    assert page.locator(".verdict__label").inner_text().lower() == "urgent"
    assert "Answers" in page.locator("main").inner_text()
    with page.expect_navigation():
        page.get_by_role("link", name="Open the full report").click()
    assert "not a diagnosis" in page.locator("body").inner_text().lower()
    page.go_back()
    with page.expect_navigation():
        page.get_by_role("button", name="Mark reviewed").click()
    assert "Marked reviewed by alice" in page.locator("main").inner_text()
    page.goto(server.url + "/clinic?reviewed=yes")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 1 and "alice" in rows.nth(0).inner_text()


def test_export_the_ticked_submissions(page, server, seeded, tmp_path):
    _, ids = seeded
    sign_in(page, server)
    page.get_by_label("Select the emergency submission", exact=False).check()
    page.get_by_label("Select the soon submission", exact=False).check()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download batch JSON lines").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".jsonl")
    path = tmp_path / "export.jsonl"
    download.save_as(path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["case_id"] for line in lines] == [ids["emergency"], ids["soon"]]


WIDE = """() => [...document.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map(e => e.tagName + '.' + e.className).slice(0, 5)"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_no_violations_on_the_clinic_pages(browser, server, seeded, viewport):
    _, ids = seeded
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        page.goto(server.url + "/clinic/sign-in")
        checked = {"sign-in": axe_violations(page)}
        page.get_by_label("Account name").fill("admin")
        page.get_by_label("Password").fill("not it at all")
        page.get_by_role("button", name="Sign in").click()
        checked["sign-in with an error"] = axe_violations(page)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        for name, path in [("queue", "/clinic"),
                           ("queue, filtered to nothing", "/clinic?urgency=soon&reviewed=yes"),
                           ("submission", f"/clinic/submissions/{ids['emergency']}"),
                           ("report", f"/clinic/submissions/{ids['soon']}/report"),
                           ("audit trail", "/clinic/audit"),
                           ("not found", "/clinic/submissions/nothing-here")]:
            page.goto(server.url + path)
            checked[name] = axe_violations(page)
            if viewport is PHONE:  # (the queue's rows become cards)
                assert no_sideways_scroll(page), (name, page.evaluate(WIDE))
        assert {name: v for name, v in checked.items() if v} == {}
    finally:
        context.close()
