"""Real-browser helpers: Debian's Chromium driven by Playwright, axe-core checks, the keyboard."""
from __future__ import annotations

import contextlib
import os

from web_support import form_value

CHROMIUM = os.environ.get("TRIAGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}  # a common phone (issue 20: every journey at 390 px)
NARROWEST = {"width": 320, "height": 640}  # the narrowest a page must work at (WCAG 1.4.10)
DESKTOP = {"width": 1280, "height": 900}


def launch(playwright):
    """Debian's Chromium (.ci/system-packages installs it): Playwright's own browser download
    cannot be reached from CI, and no test is skipped for want of it."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def running_chromium():
    """One Chromium for a test module (its `browser` fixture)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def open_page(browser, **context_options):
    """A page in a fresh browser context (its own cookies), 15 s timeouts (a test's `page`)."""
    context = browser.new_context(**context_options)
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
    finally:
        context.close()


def axe_violations(page, *, except_rules: tuple[str, ...] = ()) -> list[str]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page, one line each (`except_rules`:
    rules not checked, only where a caller says why)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}
    if except_rules:
        options["rules"] = {rule: {"enabled": False} for rule in except_rules}
    results = Axe().run(page, options=options)
    problems = []
    for violation in results.response["violations"]:
        targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        problems.append(f"{violation['id']}: {violation['help']} ({targets})")
    return problems


def no_sideways_scroll(page) -> bool:
    """Whether the page fits its viewport's width (WCAG 1.4.10 reflow)."""
    return page.evaluate("document.documentElement.scrollWidth <= "
                         "document.documentElement.clientWidth + 1")


def tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until the focus is on an element matching `selector`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("sel => document.activeElement && document.activeElement.matches(sel)",
                         selector):
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def answer_by_keyboard(page, question, value) -> None:
    """Answer the question on the page with the keyboard alone, then press Continue."""
    if question.type in ("bool", "choice"):
        wanted = form_value(question, value)
        values = page.eval_on_selector_all("input[name=answer]", "els => els.map(e => e.value)")
        tab_to(page, "input[name=answer]")
        index = values.index(wanted)
        if index == 0:
            page.keyboard.press("Space")
        for _ in range(index):
            page.keyboard.press("ArrowDown")
        assert page.eval_on_selector("input[name=answer]:checked", "e => e.value") == wanted
    else:
        tab_to(page, "#answer")
        page.keyboard.press("Control+A")
        page.keyboard.type("" if value is None else str(value))
    tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def answer_by_mouse(page, question, value) -> None:
    if question.type in ("bool", "choice"):
        # no answer: "I'm not sure", or where there is none the default's radio (an empty
        # Continue is an error, issue 20)
        page.locator(f"input[name=answer][value='{form_value(question, value)}']").check()
    else:
        page.fill("#answer", "" if value is None else str(value))
    with page.expect_navigation():
        page.click("button[type=submit]")
