"""What the SDK needs from a passkey authenticator (a browser, a platform authenticator, or a
test's software one): WebAuthn options in, the credential JSON out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Authenticator(Protocol):
    def create(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """navigator.credentials.create(): a new passkey's registration response."""
        ...

    def get(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion over `options`' challenge."""
        ...
