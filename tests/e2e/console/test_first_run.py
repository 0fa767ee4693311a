"""Must show: a new person signs up with a passkey, adds a model key, states "schedule a
meeting with Sarah next Tuesday at 2pm", and sees the run complete live, without reloading."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.console.conftest import ConsoleCairn
from tests.e2e.console.screens import (
    add_model_key,
    assert_accessible,
    result_status,
    screenshot,
    sign_up,
    state_intent,
)
from tests.support.browser import Passkeys
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e

SARAH = {
    "summary": "Meeting with Sarah next Tuesday at 2pm",
    "steps": [
        {
            "step_id": "s1",
            "action": "calendar.create_event",
            "provider": "google",
            "parameters": {
                "title": "Meeting with Sarah",
                "start": "2026-12-08T14:00:00Z",
                "end": "2026-12-08T15:00:00Z",
                "attendees": ["sarah@example.com"],
            },
        }
    ],
}


def test_a_new_person_signs_up_adds_a_key_and_sees_the_meeting_run_complete_live(
    console: ConsoleCairn, page: Page, passkeys: Passkeys, provider: FakeProvider
) -> None:
    page.goto("/")
    # Signed out, the console starts at sign-in, with the way to create a household.
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "sign-in")
    page.get_by_role("link", name="Create a household").first.click()
    expect(page.get_by_role("heading", name="Create your household")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "first-run")

    sign_up(page, "Lovelace home")
    assert len(passkeys.credentials()) == 1  # the passkey lives on the person's device
    assert_accessible(page)

    # Without a key, the home screen says what to do first.
    page.goto("/#/")
    expect(page.get_by_role("link", name="Add a model key")).to_be_visible()
    # Setting a model key widens what runs without the person: the API asks for the passkey,
    # bound to exactly this key, and the console signs and sends it again.
    answers: list[int] = []
    page.on(
        "response",
        lambda r: (
            answers.append(r.status)
            if r.request.method == "POST" and r.url.endswith("/v1/provider-keys")
            else None
        ),
    )
    add_model_key(page, "OpenAI")
    assert answers == [403, 202]
    expect(page.locator("#configured-keys [data-provider=openai]")).to_be_visible()
    screenshot(page, "model-keys")

    console.answer_with(SARAH)
    # The calendar holds the request until the test lets it go: the page must show the run
    # executing, then completed, on its own.
    provider.hang_next(1, seconds=30, perform=True)
    run_id = state_intent(page, "schedule a meeting with Sarah next Tuesday at 2pm")
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#timeline [data-event=StepStarted]")).to_be_visible()
    assert result_status(page) == "executing"
    expect(page.get_by_text("Following this run live")).to_be_visible()
    provider.release()

    expect(page.locator(".result[data-status=completed]")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    events = [
        page.locator("#timeline li").nth(i).get_attribute("data-event")
        for i in range(page.locator("#timeline li").count())
    ]
    assert events == console.run_events(run_id)
    assert events[-1] == "RunCompleted"
    # The plan with every step and parameter, the decision with its policies, the result.
    plan = page.get_by_role("region", name="Plan")
    expect(plan).to_contain_text("calendar.create_event")
    expect(plan).to_contain_text("sarah@example.com")
    expect(plan).to_contain_text("2026-12-08T14:00:00Z")
    decision = page.get_by_role("region", name="Policy decision")
    expect(decision).to_contain_text("calendar.autonomous-with-capability")
    expect(decision).to_contain_text("Approved")
    expect(page.get_by_role("region", name="Execution")).to_contain_text("s1: succeeded")
    assert provider.performed("calendar.create_event") == 1
    assert_accessible(page)
    screenshot(page, "run-completed")

    # Sign out, then back in with the same passkey.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("heading", name="What should Cairn do?")).to_be_visible()
    page.get_by_role("link", name="Runs").click()
    expect(page.locator("#run-list")).to_contain_text("schedule a meeting with Sarah")
    assert_accessible(page)
    screenshot(page, "runs")
    # Signing in again from this browser is the same device, not a new one.
    page.get_by_role("link", name="Account").click()
    expect(page.locator("#devices li")).to_have_count(1)
