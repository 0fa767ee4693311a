"""The Microsoft provider: Graph calendar and mail behind one adapter, keyed by action."""

from __future__ import annotations

import httpx

from adapters.integrations.providers.adapter import ProviderAdapter
from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.errors import graph_code
from adapters.integrations.providers.microsoft.calendar import GraphCalendar
from adapters.integrations.providers.microsoft.feed import GraphCalendarFeed
from adapters.integrations.providers.microsoft.mail import GraphMail
from adapters.integrations.providers.outbox import Outbox
from adapters.integrations.providers.reads import Seal
from commands.ports.connections import ConnectionTokens

PROVIDER = "microsoft"


class GraphAdapter(ProviderAdapter):
    def __init__(
        self,
        base_url: str,
        tokens: ConnectionTokens,
        outbox: Outbox,
        *,
        client: httpx.Client | None = None,
        seal: Seal | None = None,
    ) -> None:
        provider = ProviderClient(PROVIDER, base_url, tokens, graph_code, client=client)
        self.calendar = GraphCalendar(provider, outbox)
        self.mail = GraphMail(provider, outbox, seal)
        self.feed = GraphCalendarFeed(provider)
        actions = {
            "calendar.create_event": self.calendar.create_event,
            "calendar.update_event": self.calendar.update_event,
            "calendar.delete_event": self.calendar.delete_event,
            "calendar.free_busy": self.calendar.free_busy,
            "email.send": self.mail.send,
            "email.draft": self.mail.draft,
            "email.search": self.mail.search,
        }
        super().__init__(provider, actions)
