"""What the console tests do as a person would, and what they check on every screen."""

from __future__ import annotations

import os
import re
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"
BLOCKING_IMPACTS = ("serious", "critical")
_axe = Axe()


def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    results = _axe.run(page)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING_IMPACTS
    ]
    assert violations == [], "\n".join(violations)


def assert_fits_width(page: Page) -> None:
    """Nothing scrolls sideways: the page is usable at the viewport's width."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def screenshot(page: Page, name: str) -> None:
    """The screen as docs/console.md shows it. Every run takes it; it is written when missing
    or with CAIRN_UPDATE_SCREENSHOTS=1 (ids and times differ on every run, and a test run
    should not leave the work tree changed)."""
    image = page.screenshot(full_page=True)
    assert image.startswith(b"\x89PNG")
    target = SCREENSHOTS / f"{name}.png"
    if os.environ.get("CAIRN_UPDATE_SCREENSHOTS") == "1" or not target.exists():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target.write_bytes(image)


def sign_up(page: Page, household: str, name: str = "Ada Lovelace") -> None:
    """First run: the household and its first person, with a passkey."""
    page.goto("/#/signup")
    expect(page.get_by_role("heading", name="Create your household")).to_be_visible()
    page.get_by_label("Household name").fill(household)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Your email").fill("ada@example.com")
    page.get_by_role("button", name="Create with a passkey").click()
    expect(page.get_by_role("heading", name="Model keys")).to_be_visible()


def add_model_key(page: Page, provider: str = "OpenAI") -> None:
    page.goto("/#/keys")
    page.get_by_label("Provider").select_option(label=provider)
    page.get_by_label("API key").fill("sk-test-console-1")
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_text("Key saved.")).to_be_visible()


def state_intent(page: Page, text: str) -> str:
    """Send an intent from the home screen; returns the run id the console then follows."""
    page.goto("/#/")
    page.get_by_label("Your intent").fill(text)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f-]{36}"))
    match = re.search(r"#/runs/([0-9a-f-]{36})", page.url)
    assert match is not None
    return match.group(1)


def result_status(page: Page) -> str:
    return str(page.locator(".result").get_attribute("data-status"))
