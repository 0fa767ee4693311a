"""Debian's chromium driven by Playwright, with Chrome's virtual WebAuthn authenticator.

The browser is the system's (`/usr/bin/chromium`, installed by `make test` with apt-get when
missing): Playwright's own browser download cannot work on a machine without internet, and
is never used. The flags keep chromium from reaching for the network on its own (it would be
refused, many connections at a time) and let it run as root in a container.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, sync_playwright

CHROMIUM = os.environ.get("CAIRN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # WebAuthn needs the page on `localhost` (a secure context that matches the rp id);
    # the test server listens on IPv4 loopback only.
    "--host-resolver-rules=MAP localhost 127.0.0.1",
)

# A platform authenticator that keeps discoverable credentials and verifies its user
# (as a phone's or laptop's does): what Cairn's passkey options require.
VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def chromium_path() -> Path:
    found = shutil.which(CHROMIUM) if not Path(CHROMIUM).exists() else CHROMIUM
    if not found:
        raise RuntimeError(
            f"browser tests need Debian's chromium at {CHROMIUM}: run `make test` as root "
            "(it installs it with apt-get) or `apt-get install chromium`"
        )
    return Path(found)


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """One headless chromium for a test module (each test takes a new context). Not for the
    whole session: while Playwright's sync API is open it runs an event loop in the main
    thread, and every later `asyncio.run()` of the same pytest process fails."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Passkeys:
    """The virtual authenticator of one page (a browser tab): the person's phone or laptop."""

    cdp: CDPSession
    authenticator_id: str

    @classmethod
    def attach(cls, context: BrowserContext, page: Page) -> Passkeys:
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
        return cls(cdp, str(added["authenticatorId"]))

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})
        return list(found["credentials"])

    def copy_to(self, other: Passkeys) -> None:
        """The same passkeys in another tab (a synced passkey, as a platform keeps them)."""
        for credential in self.credentials():
            other.cdp.send(
                "WebAuthn.addCredential",
                {"authenticatorId": other.authenticator_id, "credential": credential},
            )


def replace_authenticator(context: BrowserContext, page: Page, old: Passkeys) -> Passkeys:
    """The person's device changes: the old authenticator (and its passkeys) goes away, a new
    empty one takes its place."""
    old.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": old.authenticator_id})
    added = old.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    return Passkeys(old.cdp, str(added["authenticatorId"]))
