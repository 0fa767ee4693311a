"""The household screen (an invitation accepted in another browser, a capability granted) and
a run's audit trail (its events in stream order, downloaded as NDJSON)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.console.conftest import DESKTOP, ConsoleCairn
from tests.e2e.console.screens import assert_accessible, screenshot, sign_up, state_intent
from tests.e2e.console.test_approvals import household_with_a_key
from tests.support.browser import Passkeys

pytestmark = pytest.mark.e2e

NOTE = {
    "summary": "Note the door code",
    "steps": [
        {
            "step_id": "s1",
            "action": "notes.create",
            "provider": "local",
            "parameters": {"title": "Door", "body": "Code 4711"},
        }
    ],
}


def test_an_invited_person_joins_with_a_passkey_and_is_granted_a_capability(
    browser: Browser, console: ConsoleCairn, page: Page, passkeys: Passkeys
) -> None:
    sign_up(page, "Shared home")
    page.get_by_role("link", name="Household").click()
    page.get_by_label("Their email").fill("grace@example.com")
    page.get_by_role("button", name="Make an invitation").click()
    link = page.get_by_label("Invitation link").input_value()
    assert link.startswith(f"{console.base_url}/#/join?token=")

    # Grace opens the link in her own browser, with her own authenticator.
    graces = browser.new_context(base_url=console.base_url, viewport=DESKTOP)
    try:
        grace = graces.new_page()
        own = Passkeys.attach(graces, grace)
        grace.goto(link)
        expect(grace.get_by_role("heading", name="Join a household")).to_be_visible()
        assert_accessible(grace)
        grace.get_by_label("Your name").fill("Grace Hopper")
        grace.get_by_role("button", name="Join with a passkey").click()
        expect(grace.get_by_role("heading", name="What should Cairn do?")).to_be_visible()
        assert len(own.credentials()) == 1
    finally:
        graces.close()

    page.reload()
    member = page.get_by_role("listitem", name="Member Grace Hopper")
    expect(member).to_contain_text("calendar.write")
    member.get_by_label("Grant Grace Hopper a capability").fill("audit.read")
    member.get_by_role("button", name="Grant").click()
    expect(page.get_by_text("Granted audit.read.")).to_be_visible()
    member = page.get_by_role("listitem", name="Member Grace Hopper")
    expect(member.locator(".capabilities")).to_contain_text("audit.read")
    assert_accessible(page)
    screenshot(page, "household")


def test_a_runs_audit_trail_lists_its_stored_events_and_downloads_them_as_ndjson(
    console: ConsoleCairn, page: Page, passkeys: Passkeys
) -> None:
    household_with_a_key(console, page, "Audited home")
    console.answer_with(NOTE)
    run_id = state_intent(page, "note the door code")
    expect(page.locator(".result[data-status=completed]")).to_be_visible()
    page.get_by_role("link", name="Audit: its events").click()
    expect(page.get_by_role("heading", name="Audit")).to_be_visible()

    stored = console.run_events(run_id)
    shown = page.locator("#audit-events > li")
    expect(shown).to_have_count(len(stored))
    assert_accessible(page)
    screenshot(page, "audit")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download as NDJSON").click()
    download = downloading.value
    assert download.suggested_filename == f"run-{run_id}.ndjson"
    lines = [json.loads(line) for line in download.path().read_text().splitlines()]
    assert [line["event"] for line in lines] == [f"Run.{name}" for name in stored]
    positions = [line["position"] for line in lines]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert {line["aggregate_id"] for line in lines} == {run_id}
