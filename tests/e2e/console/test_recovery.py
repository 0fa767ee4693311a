"""Must show: with every passkey gone from the person's device, a recovery code adds a new
passkey and signs them in; the same code used twice fails with a clear error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.console.conftest import PHONE, ConsoleCairn
from tests.e2e.console.screens import assert_accessible, assert_fits_width, screenshot, sign_up
from tests.support.browser import Passkeys

pytestmark = pytest.mark.e2e


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def recover_with(page: Page, code: str) -> None:
    page.get_by_role("link", name="Recover with a code").click()
    expect(page.get_by_role("heading", name="Recover your account")).to_be_visible()
    page.get_by_label("Recovery code").fill(code)
    page.get_by_role("button", name="Recover with a new passkey").click()


def test_a_recovery_code_adds_a_new_passkey_once(
    console: ConsoleCairn, page: Page, passkeys: Passkeys
) -> None:
    sign_up(page, "Recovery home")
    page.goto("/#/account")
    page.get_by_role("link", name="your recovery codes").click()
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    expect(page.locator("#recovery-status")).to_have_text("You have no recovery codes yet.")
    assert_accessible(page)
    # Making codes is approved with the passkey, bound to this change (403, then signed).
    answers: list[int] = []
    page.on(
        "response",
        lambda r: (
            answers.append(r.status)
            if r.request.method == "POST" and r.url.endswith("/v1/recovery-codes")
            else None
        ),
    )
    page.get_by_role("button", name="Make recovery codes").click()
    shown = page.locator("#recovery-codes li")
    expect(shown).to_have_count(10)
    assert answers == [403, 201]
    codes = [text.strip() for text in shown.all_inner_texts()]
    assert len(set(codes)) == 10
    expect(page.locator("#recovery-status")).to_have_text("10 of your 10 codes are unused.")
    assert_accessible(page)
    screenshot(page, "recovery-codes")

    # The person's device is lost with every passkey on it.
    sign_out(page)
    passkeys.cdp.send("WebAuthn.clearCredentials", {"authenticatorId": passkeys.authenticator_id})
    assert passkeys.credentials() == []

    recover_with(page, codes[0])
    expect(page.get_by_role("heading", name="Account")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Recovered")).to_be_visible()
    expect(page.locator("#passkeys")).to_contain_text("recovered passkey")
    assert len(passkeys.credentials()) == 1  # the new passkey, on the device in hand
    expect(page.locator("#security-events")).to_contain_text("recovery_code_used")
    page.goto("/#/recovery-codes")
    expect(page.locator("#recovery-status")).to_have_text("9 of your 10 codes are unused.")

    # Signed out again, the new passkey signs in.
    sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # The same code a second time: refused, and nothing is added.
    sign_out(page)
    recover_with(page, codes[0].lower())
    refused = page.get_by_role("alert")
    expect(refused).to_contain_text("used already: each code works once")
    expect(refused).to_contain_text("recovery_code_used")
    expect(page.get_by_role("heading", name="Recover your account")).to_be_visible()
    assert len(passkeys.credentials()) == 1
    assert_accessible(page)
    screenshot(page, "recovery-used")
    # On a phone: one column, nothing scrolls sideways.
    page.set_viewport_size(PHONE)
    assert_fits_width(page)
