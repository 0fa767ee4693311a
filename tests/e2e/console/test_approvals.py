"""Must show: a payment over the limit shows up in the inbox with the exact plan; approving it
with the passkey executes it once; a second tab approving the same run gets a clear "already
decided"; a denied one never executes; an expired one is shown as expired."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from pydantic import SecretStr

from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from tests.e2e.console.conftest import ConsoleCairn
from tests.e2e.console.screens import (
    assert_accessible,
    screenshot,
    sign_up,
    state_intent,
)
from tests.support.browser import Passkeys
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e


def payment(amount: str, recipient: str = "bob") -> dict[str, Any]:
    return {
        "summary": f"Pay {recipient.title()} {amount} EUR",
        "steps": [
            {
                "step_id": "s1",
                "action": "payments.send",
                "provider": "bank",
                "parameters": {"recipient": recipient, "amount": amount, "currency": "EUR"},
            }
        ],
    }


def household_with_a_key(console: ConsoleCairn, page: Page, name: str) -> None:
    """Signed up in the browser (the passkey is the page's); the model key stored directly
    (the first-run test adds one through the console)."""
    sign_up(page, name)
    tenant = page.evaluate("JSON.parse(localStorage.getItem('cairn.session')).tenant_id")
    store_provider_key(
        console.services.identity.vault,
        uuid.UUID(tenant),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr("sk-test-console-2")),
    )


def escalated_payment(console: ConsoleCairn, page: Page, amount: str, recipient: str) -> str:
    console.answer_with(payment(amount, recipient))
    run_id = state_intent(page, f"pay {recipient} {amount} euros")
    expect(page.locator(".result[data-status=escalated]")).to_be_visible()
    expect(page.get_by_role("link", name="Open the approvals inbox")).to_be_visible()
    return run_id


def approval_card(page: Page, run_id: str) -> Any:
    return page.locator(f"[data-run-id='{run_id}']")


def test_a_payment_over_the_limit_is_approved_once_and_a_second_tab_sees_already_decided(
    console: ConsoleCairn,
    context: BrowserContext,
    page: Page,
    passkeys: Passkeys,
    provider: FakeProvider,
) -> None:
    household_with_a_key(console, page, "Payments home")
    run_id = escalated_payment(console, page, "20.00", "bob")
    assert provider.performed("payments.send") == 0
    page.goto("/#/")
    expect(page.locator("#waiting-approvals")).to_contain_text("1 plan waits for your approval")

    # A second tab of the same browser, with the same (synced) passkey.
    other = context.new_page()
    passkeys.copy_to(Passkeys.attach(context, other))
    for tab in (page, other):
        tab.goto("/#/approvals")
        card = approval_card(tab, run_id)
        expect(card).to_be_visible()
        # The exact plan, the amount and the recipient, and the policies that escalated it.
        expect(card.locator(".amount")).to_have_text("20.00 EUR")
        expect(card.locator(".recipients")).to_have_text("bob")
        expect(card.get_by_role("region", name="Plan")).to_contain_text("payments.send")
        expect(card.get_by_role("region", name="Policy decision")).to_contain_text(
            "payments.with-approval"
        )
    assert_accessible(page)
    screenshot(page, "approvals")

    approval_card(page, run_id).get_by_role("button", name="Approve with passkey").click()
    expect(approval_card(page, run_id)).to_contain_text("Approved.")
    approval_card(page, run_id).get_by_role("link", name="Follow the run").click()
    expect(page.locator(".result[data-status=completed]")).to_be_visible()
    assert provider.performed("payments.send") == 1

    approval_card(other, run_id).get_by_role("button", name="Approve with passkey").click()
    decided = approval_card(other, run_id).get_by_role("alert")
    expect(decided).to_contain_text("Already decided")
    expect(decided).to_contain_text("completed")
    screenshot(other, "already-decided")
    assert provider.performed("payments.send") == 1
    events = console.run_events(run_id)
    assert events.count("EscalationApproved") == 1
    assert events.count("StepSucceeded") == 1


def test_denied_cancelled_and_expired_payments_never_execute(
    console: ConsoleCairn, page: Page, passkeys: Passkeys, provider: FakeProvider
) -> None:
    household_with_a_key(console, page, "Careful home")
    denied = escalated_payment(console, page, "30.00", "mallory")

    page.goto("/#/approvals")
    card = approval_card(page, denied)
    card.get_by_label("Reason, if you deny").fill("I do not know Mallory")
    card.get_by_role("button", name="Deny").click()
    expect(card).to_contain_text("Denied: this plan will never run.")
    page.goto(f"/#/runs/{denied}")
    expect(page.locator(".result[data-status=denied]")).to_be_visible()

    # One the person cancels from its page before answering: cancelled live, never run.
    cancelled = escalated_payment(console, page, "35.00", "trent")
    page.get_by_role("button", name="Cancel this run").click()
    expect(page.locator(".result[data-status=cancelled]")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel this run")).to_have_count(0)

    # An escalation nobody answers in time: the inbox says it expired, with no approve button.
    assert console.worker is not None
    runs = console.worker.runs
    runs.ports = dataclasses.replace(runs.ports, escalation_ttl=timedelta(seconds=2))
    expired = escalated_payment(console, page, "40.00", "carol")
    expect(page.locator(".result[data-status=expired]")).to_be_visible()
    page.goto("/#/approvals")
    card = approval_card(page, expired)
    expect(card.locator(".expired")).to_contain_text("Expired")
    expect(card.get_by_role("button", name="Approve with passkey")).to_have_count(0)
    expect(page.locator("#approvals-empty")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "approvals-expired")

    assert provider.performed("payments.send") == 0
    assert "StepStarted" not in console.run_events(denied)
    assert console.run_events(denied)[-1] == "EscalationDenied"
    assert console.run_events(cancelled)[-1] == "RunCancelled"
    assert "StepStarted" not in console.run_events(expired)
    assert console.run_events(expired)[-1] == "EscalationExpired"
