"""A test-only `ConnectionTokens`: a fixed bearer token per provider that the fake provider
APIs accept, until the real implementation (adapters/integrations/tokens.py) is wired.

It counts `rejected` calls and hands out the next token of its list after one, so a test can
revoke the first token at the fake and watch the adapter retry once with a new one.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from commands.ports.connections import AccessToken, ConnectionMissing, ReauthNeeded


class FixedTokens:
    def __init__(self, tokens: dict[str, list[str]], *, dead: set[str] | None = None) -> None:
        self.tokens = {provider: list(values) for provider, values in tokens.items()}
        self.dead = set(dead or ())  # providers whose grant is dead (ReauthNeeded)
        self.rejections = 0
        self._lock = threading.Lock()

    def access_token(self, tenant: str, person: str, provider: str) -> AccessToken:
        if provider in self.dead:
            raise ReauthNeeded(f"the {provider} grant is dead", {"provider": provider})
        with self._lock:
            values = self.tokens.get(provider)
            if not values:
                raise ConnectionMissing(f"no {provider} connection", {"provider": provider})
            value = values[0]
        return AccessToken(
            connection_id=f"test-{provider}",
            provider=provider,
            value=value,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )

    def rejected(self, tenant: str, token: AccessToken) -> None:
        with self._lock:
            self.rejections += 1
            values = self.tokens.get(token.provider, [])
            if len(values) > 1 and values[0] == token.value:
                values.pop(0)
