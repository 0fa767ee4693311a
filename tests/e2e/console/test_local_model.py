"""'Use a local model' on the model-keys screen: base URL and model name, no key needed; a
loopback endpoint is refused with the reason on the page while the operator has not allowed
private addresses (the API's own test, tests/e2e/runs/test_local_model.py, plans with one)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.console.conftest import ConsoleCairn
from tests.e2e.console.screens import assert_accessible, screenshot, sign_up
from tests.support.browser import Passkeys

pytestmark = pytest.mark.e2e


def test_a_loopback_model_endpoint_is_refused_with_its_reason(
    console: ConsoleCairn, page: Page, passkeys: Passkeys
) -> None:
    sign_up(page, "Local home")
    page.get_by_label("Provider").select_option(label="Local model (OpenAI-compatible)")
    expect(page.get_by_label("Base URL")).to_be_visible()
    expect(page.get_by_label("API key (if your server needs one)")).not_to_have_attribute(
        "required", ""
    )
    page.get_by_label("Base URL").fill("http://127.0.0.1:11434/v1")
    page.get_by_label("Model name").fill("llama3.2")
    page.get_by_role("button", name="Save key").click()
    refused = page.get_by_role("alert")
    expect(refused).to_contain_text("model_endpoint_refused")
    expect(refused).to_contain_text("CAIRN_ALLOW_PRIVATE_MODEL_ENDPOINTS")
    # Refused before any passkey was asked for: nothing stored.
    expect(page.locator("#configured-keys")).to_contain_text("No key yet")
    assert_accessible(page)
    screenshot(page, "local-model")
