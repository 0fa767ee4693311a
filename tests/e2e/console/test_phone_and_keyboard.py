"""The console at a phone's width, driven with the keyboard alone: every screen fits the
screen, passes axe-core with no serious or critical violation, and breaks no CSP rule."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from api.console import CONTENT_SECURITY_POLICY
from tests.e2e.console.conftest import PHONE, ConsoleCairn
from tests.e2e.console.screens import assert_accessible, assert_fits_width, screenshot
from tests.support.browser import Passkeys

pytestmark = pytest.mark.e2e

NOTE = {
    "summary": "Note the plumber's number",
    "steps": [
        {
            "step_id": "s1",
            "action": "notes.create",
            "provider": "local",
            "parameters": {"title": "Plumber", "body": "Call 555 0100 about the sink"},
        }
    ],
}


def tab_to(page: Page, target: Locator, presses: int = 40) -> None:
    """Move the focus with Tab until it reaches `target`: proof it is reachable by keyboard."""
    for _ in range(presses):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{target} cannot be reached with the Tab key")


def check_screen(page: Page, name: str | None = None) -> None:
    assert_fits_width(page)
    assert_accessible(page)
    if name:
        screenshot(page, name)


def test_every_screen_works_at_phone_width_with_the_keyboard(
    browser: Browser, console: ConsoleCairn
) -> None:
    context = browser.new_context(base_url=console.base_url, viewport=PHONE, has_touch=True)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if _is_error(m) else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        Passkeys.attach(context, page)
        response = page.goto("/#/signup")
        assert response is not None
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        expect(page.get_by_role("heading", name="Create your household")).to_be_visible()
        check_screen(page, "phone-first-run")

        for label, text in (
            ("Household name", "Keyboard home"),
            ("Your name", "Grace Hopper"),
            ("Your email", "grace@example.com"),
        ):
            tab_to(page, page.get_by_label(label))
            page.keyboard.type(text)
        tab_to(page, page.get_by_role("button", name="Create with a passkey"))
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Model keys")).to_be_visible()
        check_screen(page)

        tab_to(page, page.get_by_label("API key"))
        page.keyboard.type("sk-test-keyboard-1")
        tab_to(page, page.get_by_role("button", name="Save key"))
        page.keyboard.press("Enter")
        expect(page.get_by_text("Key saved.")).to_be_visible()

        console.answer_with(NOTE)
        tab_to(page, page.get_by_role("link", name="State your first intent"))
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="What should Cairn do?")).to_be_visible()
        check_screen(page, "phone-intent")
        tab_to(page, page.get_by_label("Your intent"))
        page.keyboard.type("note the plumber's number")
        tab_to(page, page.get_by_role("button", name="Send"))
        page.keyboard.press("Enter")
        expect(page.locator(".result[data-status=completed]")).to_be_visible()
        check_screen(page, "phone-run")

        for link, heading in (("Runs", "Runs"), ("Approvals", "Approvals")):
            tab_to(page, page.get_by_role("link", name=link, exact=True))
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            check_screen(page)

        tab_to(page, page.get_by_role("button", name="Sign out"))
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        check_screen(page)
        tab_to(page, page.get_by_role("button", name="Sign in with a passkey"))
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="What should Cairn do?")).to_be_visible()
    finally:
        context.close()
    assert errors == []


def _is_error(message: ConsoleMessage) -> bool:
    """A CSP violation or a script error. An API answer the console handles (a 403 asking for
    a passkey, say) is logged by chromium as a failed resource, and is not one."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")
