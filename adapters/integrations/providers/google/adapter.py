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
from adapters.integrations.providers.reads import Seal
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
        seal: Seal | None = None,
    ) -> None:
        provider = ProviderClient(PROVIDER, base_url, tokens, google_reason, client=client)
        self.calendar = GoogleCalendar(provider, outbox)
        self.gmail = Gmail(provider, outbox, seal)
        self.feed = GoogleCalendarFeed(provider)
        actions = {
            "calendar.create_event": self.calendar.create_event,
            "calendar.update_event": self.calendar.update_event,
            "calendar.delete_event": self.calendar.delete_event,
            "calendar.free_busy": self.calendar.free_busy,
            "email.send": self.gmail.send,
            "email.draft": self.gmail.draft,
            "email.search": self.gmail.search,
        }
        super().__init__(provider, actions)
