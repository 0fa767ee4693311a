"""Policies (view, edit with the refusal shown on its line, dry run) and the account screen
(devices revoked with a fresh passkey assertion, the person's own security events)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.console.conftest import DESKTOP, ConsoleCairn
from tests.e2e.console.screens import assert_accessible, screenshot, sign_up
from tests.support.browser import Passkeys, replace_authenticator

pytestmark = pytest.mark.e2e

BROKEN = """

@id("broken")
permit (principal, action == Action::"notes.create", resource)
when { context.no_such_thing > 1 };
"""

NO_PAYMENTS = """

@id("no-payments-at-all")
forbid (principal, action == Action::"payments.send", resource);
"""


def test_a_refused_policy_is_shown_on_its_line_and_a_dry_run_follows_the_saved_policies(
    console: ConsoleCairn, page: Page, passkeys: Passkeys
) -> None:
    sign_up(page, "Policy home")
    page.get_by_role("link", name="Policies").click()
    editor = page.get_by_label("Your policies (Cedar)")
    expect(editor).to_have_value(re.compile(r"payments\.with-approval"))
    original = editor.input_value()
    assert_accessible(page)

    editor.fill(original + BROKEN)
    page.get_by_role("button", name="Save policies").click()
    problem = page.locator("#policy-problems li")
    expect(problem).to_contain_text("broken")
    expect(problem).to_contain_text("no_such_thing")
    line = (original + BROKEN).split("\n").index('@id("broken")') + 1
    expect(problem.get_by_role("button")).to_have_text(f"Line {line}")
    expect(editor).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    screenshot(page, "policies-refused")

    page.get_by_role("button", name="Evaluate").click()
    expect(page.locator("#dry-run .outcome")).to_have_text("Needs your approval")

    editor.fill(original + NO_PAYMENTS)
    page.get_by_role("button", name="Save policies").click()
    expect(page.get_by_text("Saved: new runs are decided by these policies.")).to_be_visible()
    page.get_by_role("button", name="Evaluate").click()
    expect(page.locator("#dry-run .outcome")).to_have_text("Denied")
    expect(page.locator("#dry-run")).to_contain_text("no-payments-at-all")

    # Taking the forbid away widens what runs without the person: the console signs the
    # change with the passkey (bound to exactly this text) and sends it again.
    answers: list[int] = []
    page.on(
        "response",
        lambda r: (
            answers.append(r.status)
            if r.request.method == "PUT" and r.url.endswith("/v1/policies")
            else None
        ),
    )
    page.reload()
    expect(editor).to_have_value(re.compile(r"no-payments-at-all"))
    editor.fill(original)
    page.get_by_role("button", name="Save policies").click()
    expect(page.get_by_text("Saved: new runs are decided by these policies.")).to_be_visible()
    page.get_by_role("button", name="Evaluate").click()
    expect(page.locator("#dry-run .outcome")).to_have_text("Needs your approval")
    # The first try was refused for want of an approval, the signed one applied.
    assert answers == [403, 202]


def test_revoking_another_device_signs_it_out_and_security_events_show_the_logins(
    browser: Browser, console: ConsoleCairn, context: BrowserContext, page: Page, passkeys: Passkeys
) -> None:
    sign_up(page, "Device home")
    laptop = browser.new_context(base_url=console.base_url, viewport=DESKTOP)
    try:
        other = laptop.new_page()
        passkeys.copy_to(Passkeys.attach(laptop, other))
        other.goto("/#/signin")
        other.get_by_role("button", name="Sign in with a passkey").click()
        expect(other.get_by_role("heading", name="What should Cairn do?")).to_be_visible()

        page.get_by_role("link", name="Account").click()
        devices = page.locator("#devices li")
        expect(devices).to_have_count(2)
        expect(page.locator("#security-events")).to_contain_text("login")
        assert_accessible(page)
        screenshot(page, "account")
        page.locator("#devices").get_by_role("button", name="Revoke").click()
        expect(page.get_by_text("Device revoked: its sessions ended.")).to_be_visible()
        expect(page.locator("#devices")).to_contain_text("(revoked)")

        # The revoked browser is signed out at its next request.
        other.get_by_role("link", name="Runs").click()
        expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        laptop.close()


def test_a_new_passkey_replaces_the_first_and_erasing_signs_the_person_out(
    console: ConsoleCairn, context: BrowserContext, page: Page, passkeys: Passkeys
) -> None:
    sign_up(page, "Passkey home")
    page.get_by_role("link", name="Account").click()
    expect(page.locator("#passkeys li")).to_have_count(1)
    # CDP names credentials in base64, the API in base64url without padding.
    raw = passkeys.credentials()[0]["credentialId"]
    first = raw.replace("+", "-").replace("/", "_").rstrip("=")
    expect(page.locator(f"[data-credential-id='{first}']")).to_have_count(1)

    # This device already holds the account's passkey: it makes no second one.
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("already holds a passkey")

    # A new phone: its authenticator holds none of the old passkeys.
    phone = replace_authenticator(context, page, passkeys)
    page.get_by_label("Name of the new passkey").fill("new phone")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Passkey added.")).to_be_visible()
    expect(page.locator("#passkeys li")).to_have_count(2)
    assert len(phone.credentials()) == 1
    page.get_by_role("button", name="Remove passkey first passkey").click()
    expect(page.get_by_text("Passkey removed.")).to_be_visible()
    expect(page.locator("#passkeys li")).to_have_count(1)
    expect(page.locator("#passkeys")).to_contain_text("new phone")
    expect(page.locator(f"[data-credential-id='{first}']")).to_have_count(0)

    page.get_by_label('Type "erase" to confirm').fill("erase")
    page.get_by_role("button", name="Erase my data").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
