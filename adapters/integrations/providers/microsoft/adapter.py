"""The Microsoft provider: Graph calendar and mail behind one adapter, keyed by action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.errors import graph_code
from adapters.integrations.providers.microsoft.calendar import GraphCalendar
from adapters.integrations.providers.microsoft.feed import GraphCalendarFeed
from adapters.integrations.providers.microsoft.mail import GraphMail
from adapters.integrations.providers.outbox import Outbox
from commands.ports.connections import ConnectionTokens

PROVIDER = "microsoft"


class GraphAdapter:
    def __init__(
        self,
        base_url: str,
        tokens: ConnectionTokens,
        outbox: Outbox,
        *,
        client: httpx.Client | None = None,
    ) -> None:
        self.client = ProviderClient(PROVIDER, base_url, tokens, graph_code, client=client)
        self.calendar = GraphCalendar(self.client, outbox)
        self.mail = GraphMail(self.client, outbox)
        self.feed = GraphCalendarFeed(self.client)
        self._actions = {
            "calendar.create_event": self.calendar.create_event,
            "email.send": self.mail.send,
            "email.draft": self.mail.draft,
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
