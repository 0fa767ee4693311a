"""The Memories screen: note, search, correct and forget a memory in the browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.console.conftest import ConsoleCairn
from tests.e2e.console.screens import assert_accessible, screenshot, sign_up
from tests.support.browser import Passkeys

pytestmark = pytest.mark.e2e


def test_note_search_correct_and_forget_a_memory(
    console: ConsoleCairn, page: Page, passkeys: Passkeys
) -> None:
    sign_up(page, "Memory home")
    page.get_by_role("link", name="Memories").click()
    expect(page.get_by_role("heading", name="Memories", level=1)).to_be_visible()
    page.get_by_label("Memory", exact=True).fill("Sarah Lee is my dentist, sarah@smile.example")
    page.get_by_role("button", name="Remember").click()
    memory = page.locator("#memory-list li[data-memory]")
    expect(memory).to_have_count(1)
    expect(memory).to_contain_text("Sarah Lee is my dentist")
    assert_accessible(page)

    page.get_by_label("Search", exact=True).fill("dentist")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#memory-results li").first).to_contain_text("Sarah Lee")

    memory.get_by_role("button", name="Correct").click()
    page.get_by_label("Corrected text").fill("Sarah Lee is my orthodontist")
    page.get_by_role("button", name="Save correction").click()
    expect(memory).to_contain_text("orthodontist")
    screenshot(page, "memories")

    page.once("dialog", lambda dialog: dialog.accept())
    memory.get_by_role("button", name="Forget").click()
    expect(page.locator("#memory-list li[data-memory]")).to_have_count(0)
