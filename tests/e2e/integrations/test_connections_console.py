"""The console connects a (test) Google-shaped account end to end in the real browser: the
provider's consent page, the redirect back with code, state and iss, the token in the vault;
then disconnects it (revoked at the provider)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from infra.stack.launcher import StackEndpoints
from tests.e2e.console.conftest import DESKTOP, ConsoleCairn
from tests.e2e.console.screens import assert_accessible, sign_up
from tests.support.browser import Passkeys, launched_chromium
from tests.support.cairn_settings import isolated_settings
from tests.support.oauth_server import TestOAuthServer
from tests.support.workers import worker_thread

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound


@pytest.fixture
def oauth(listener: socket.socket) -> Iterator[TestOAuthServer]:
    port = listener.getsockname()[1]
    with TestOAuthServer(f"http://localhost:{port}/console/connections-callback.html") as server:
        yield server


@pytest.fixture
def console(
    stack: StackEndpoints,
    migrated_database_url: str,
    unique_name: str,
    tmp_path: Path,
    listener: socket.socket,
    oauth: TestOAuthServer,
) -> Iterator[ConsoleCairn]:
    port = listener.getsockname()[1]
    settings = isolated_settings(
        stack,
        migrated_database_url,
        unique_name,
        tmp_path,
        rp_id="localhost",
        origins=(f"http://localhost:{port}",),
        oauth_providers={"google": oauth.provider_entry()},
    )
    cairn = ConsoleCairn(settings, listener)
    cairn.thread.start()
    try:
        deadline = time.monotonic() + 30
        while not cairn.server.started:
            if not cairn.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        with worker_thread(settings, cairn.services) as worker:
            cairn.worker = worker
            yield cairn
    finally:
        cairn.server.should_exit = True
        cairn.thread.join(timeout=15)


@pytest.fixture
def context(browser: Browser, console: ConsoleCairn) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=console.base_url, viewport=DESKTOP)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def passkeys(context: BrowserContext, page: Page) -> Passkeys:
    return Passkeys.attach(context, page)


def test_the_console_connects_a_google_account_and_disconnects_it(
    console: ConsoleCairn, page: Page, passkeys: Passkeys, oauth: TestOAuthServer
) -> None:
    sign_up(page, "Connected home")
    page.get_by_role("link", name="Connections").click()
    expect(page.get_by_role("heading", name="Connected accounts")).to_be_visible()
    google = page.locator('li[data-provider="google"]')
    expect(google).to_have_attribute("data-status", "not_connected")
    assert_accessible(page)

    google.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("heading", name="Allow Cairn?")).to_be_visible()
    assert page.url.startswith(oauth.base_url)
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_text("Connected google.")).to_be_visible()
    expect(google).to_have_attribute("data-health", "ok")
    expect(google).to_contain_text("ada@example.org")
    assert "code=" not in page.url
    assert oauth.code_calls == 1

    session = page.evaluate("JSON.parse(localStorage.getItem('cairn.session'))")
    connections = console.services.connections
    assert connections is not None
    token = connections.tokens.access_token(session["tenant_id"], session["user_id"], "google")
    assert token.value in oauth.valid_access_tokens()
    assert_accessible(page)

    google.get_by_role("button", name="Disconnect").click()
    expect(google).to_have_attribute("data-status", "disconnected")
    assert oauth.revocations == ["refresh_token"]
    assert oauth.valid_access_tokens() == set()
