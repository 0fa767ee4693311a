"""The Google provider: Calendar and Gmail behind one adapter, keyed by catalogue action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.errors import google_reason
from adapters.integrations.providers.google.calendar import GoogleCalendar
from adapters.integrations.providers.google.feed import GoogleCalendarFeed
from adapters.integrations.providers.google.gmail import Gmail
from adapters.integrations.providers.outbox import Outbox
from commands.ports.connections import ConnectionTokens

PROVIDER = "google"


class GoogleAdapter:
    def __init__(
        self,
        base_url: str,
        tokens: ConnectionTokens,
        outbox: Outbox,
        *,
        client: httpx.Client | None = None,
    ) -> None:
        self.client = ProviderClient(PROVIDER, base_url, tokens, google_reason, client=client)
        self.calendar = GoogleCalendar(self.client, outbox)
        self.gmail = Gmail(self.client, outbox)
        self.feed = GoogleCalendarFeed(self.client)
        self._actions = {
            "calendar.create_event": self.calendar.create_event,
            "email.send": self.gmail.send,
            "email.draft": self.gmail.draft,
        }

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self._actions)

    def perform(
        self,
        tenant: str,
        person: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
    ) -> dict[str, Any]:
        return self._actions[action](tenant, person, dict(parameters), idempotency_key, timeout)

    def close(self) -> None:
        self.client.close()
