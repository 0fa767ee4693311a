"""Must show: `cairn login` in a terminal (a subprocess of the test) completes after the
browser approves the device code with the passkey; `cairn intent ... --wait` then prints the
completed run. And what the terminal cannot do (a change bound to a passkey) it sends to the
console."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from clients.sdk import Cairn
from clients.sdk import calls as sdk_calls
from clients.sdk.errors import BadRequest
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from tests.e2e.console.conftest import PHONE, ConsoleCairn
from tests.e2e.console.screens import assert_accessible, assert_fits_width, screenshot, sign_up
from tests.e2e.console.test_first_run import SARAH
from tests.support.browser import Passkeys
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e

CAIRN = str(Path(sys.executable).parent / "cairn")
TIMEOUT_S = 240  # the CLI imports the operator commands too; a loaded machine starts it slowly
WIDENING = '@id("everything")\npermit(principal, action, resource);\n'


def terminal(console: ConsoleCairn, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CAIRN_CONFIG_DIR"}
    return {
        **env,
        "CAIRN_API_URL": console.base_url,
        "XDG_CONFIG_HOME": str(home),
        "NO_COLOR": "1",
    }


def cairn(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAIRN, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False
    )


def with_model_key(console: ConsoleCairn, page: Page) -> None:
    """The household has a key (set through the console in test_first_run) and the model
    answers the Sarah plan."""
    session = json.loads(page.evaluate("localStorage.getItem('cairn.session')"))
    store_provider_key(
        console.services.identity.vault,
        uuid.UUID(session["tenant_id"]),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr("sk-test-console-1")),
    )
    console.answer_with(SARAH)


@pytest.mark.long(21)
def test_cairn_login_completes_after_the_browser_approves_then_intent_wait_prints_the_run(
    console: ConsoleCairn,
    page: Page,
    passkeys: Passkeys,
    provider: FakeProvider,
    tmp_path: Path,
) -> None:
    sign_up(page, "Terminal home")
    with_model_key(console, page)
    # Signed out in this browser: the device page signs the person in first, then comes back.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    env = terminal(console, tmp_path / "xdg")
    login = subprocess.Popen(
        [CAIRN, "login", "--json", "--device-name", "terminal", "--scope", "autonomy:write"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert login.stdout is not None
        shown = json.loads(login.stdout.readline())
        assert "device_code" not in shown
        uri = shown["verification_uri_complete"]
        assert uri == f"{console.base_url}/device?user_code={shown['user_code']}"

        page.goto(uri)
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.get_by_role("heading", name="Sign in a device")).to_be_visible()
        card = page.locator(".device-approval")
        expect(
            card.get_by_role("heading", name="cairn CLI wants to sign in as you")
        ).to_be_visible()
        expect(card.locator(".user-code")).to_have_text(shown["user_code"])
        expect(card.locator(".scopes")).to_contain_text("autonomy:write")
        assert_accessible(page)
        screenshot(page, "device-login")
        card.get_by_role("button", name="Approve with passkey").click()
        expect(card.get_by_role("status")).to_contain_text("go back to your terminal")
        assert_accessible(page)

        out, err = login.communicate(timeout=TIMEOUT_S)
    finally:
        if login.poll() is None:
            login.kill()
    assert login.returncode == 0, err
    signed_in = json.loads(out.strip().splitlines()[-1])
    session = json.loads(page.evaluate("localStorage.getItem('cairn.session')"))
    assert signed_in["signed_in"] is True and signed_in["user_id"] == session["user_id"]

    done = cairn(env, "intent", "Schedule a meeting with Sarah next Tuesday at 2pm", "--wait")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout.splitlines()[0], done.stdout
    assert "calendar.create_event" in done.stdout
    assert provider.performed("calendar.create_event") == 1
    # The terminal is a device of the person's, listed on the account screen.
    page.goto("/#/account")
    expect(page.locator("#devices")).to_contain_text("terminal")

    # A widening policy change needs the passkey: the terminal says where to make it.
    policy = tmp_path / "widen.cedar"
    policy.write_text(WIDENING)
    refused = cairn(env, "policies", "put", str(policy))
    assert refused.returncode == 3, refused.stderr
    assert "step_up_required" in refused.stderr and "passkey" in refused.stderr
    assert f"{console.base_url}/#/policies" in refused.stderr
    policies = page.request.get(
        "/v1/policies", headers={"Authorization": f"Bearer {session['access_token']}"}
    )
    assert "everything" not in policies.json()["text"]


def test_a_denied_code_never_signs_the_device_in_and_a_decided_one_says_so(
    console: ConsoleCairn, page: Page, passkeys: Passkeys
) -> None:
    sign_up(page, "Denying home")
    device = Cairn(console.base_url)
    started = device.call(sdk_calls.request_device_authorization("cairn CLI"))
    page.goto(started.verification_uri_complete)
    card = page.locator(".device-approval")
    card.get_by_role("button", name="Deny").click()
    expect(card.get_by_role("status")).to_contain_text("Denied")
    with pytest.raises(BadRequest) as denied:
        device.call(sdk_calls.redeem_device_code(started.device_code, "terminal"))
    assert denied.value.code == "access_denied"

    # The same code opened again (another tab, a reload) is no longer there to approve.
    page.goto(started.verification_uri_complete)
    expect(page.get_by_role("alert")).to_contain_text("Already decided")
    expect(page.get_by_role("button", name="Approve with passkey")).to_have_count(0)
    page.set_viewport_size(PHONE)
    assert_fits_width(page)
    # A code typed by hand that is not one Cairn shows.
    page.goto("/#/device")
    page.get_by_label("Code from your terminal").fill("AEIO-0000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("8 letters")
    assert_accessible(page)
