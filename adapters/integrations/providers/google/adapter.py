"""The Google provider: Calendar and Gmail behind one adapter, keyed by catalogue action."""

from __future__ import annotations

import httpx

from adapters.integrations.providers.adapter import ProviderAdapter
from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.errors import google_reason
from adapters.integrations.providers.google.calendar import GoogleCalendar
from adapters.integrations.providers.google.feed import GoogleCalendarFeed
from adapters.integrations.providers.google.gmail import Gmail
from adapters.integrations.providers.outbox import Outbox
from commands.ports.connections import ConnectionTokens

PROVIDER = "google"


class GoogleAdapter(ProviderAdapter):
    def __init__(
        self,
        base_url: str,
        tokens: ConnectionTokens,
        outbox: Outbox,
        *,
        client: httpx.Client | None = None,
    ) -> None:
        provider = ProviderClient(PROVIDER, base_url, tokens, google_reason, client=client)
        self.calendar = GoogleCalendar(provider, outbox)
        self.gmail = Gmail(provider, outbox)
        self.feed = GoogleCalendarFeed(provider)
        actions = {
            "calendar.create_event": self.calendar.create_event,
            "email.send": self.gmail.send,
            "email.draft": self.gmail.draft,
        }
        super().__init__(provider, actions)
