"""The integration port over provider adapters, with the generic HTTP port for the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from adapters.integrations.providers.outbox import Outbox
from adapters.integrations.providers.reads import Seal
from commands.ports.calendar_sync import CalendarFeedApi
from commands.ports.connections import ConnectionTokens
from commands.ports.integrations import ErrorKind, IntegrationError, Integrations
from commands.ports.mail_sync import MailFeedApi


class ProviderAdapter(Protocol):
    """One provider's actions, performed for a person (whose connected account acts)."""

    @property
    def actions(self) -> frozenset[str]: ...

    def perform(
        self,
        tenant: str,
        person: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
    ) -> dict[str, Any]: ...


class ProviderIntegrations:
    """`Integrations` that sends each provider's actions to its adapter."""

    def __init__(
        self, adapters: Mapping[str, ProviderAdapter], fallback: Integrations | None = None
    ) -> None:
        self.adapters = dict(adapters)
        self.fallback = fallback
        # Each provider's calendar feed (push channels, delta sync) for `FeedSync`.
        self.feeds: dict[str, CalendarFeedApi] = {}
        # And each provider's inbox feed for `MailSync`.
        self.mail_feeds: dict[str, MailFeedApi] = {}

    def supports(self, provider: str, action: str) -> bool:
        adapter = self.adapters.get(provider)
        if adapter is not None:
            return action in adapter.actions
        return self.fallback is not None and self.fallback.supports(provider, action)

    def perform(
        self,
        tenant: str,
        provider: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
        person: str | None = None,
    ) -> dict[str, Any]:
        adapter = self.adapters.get(provider)
        if adapter is None and self.fallback is not None:
            return self.fallback.perform(
                tenant,
                provider,
                action,
                parameters,
                idempotency_key,
                timeout=timeout,
                person=person,
            )
        if adapter is None or action not in adapter.actions:
            raise IntegrationError(
                ErrorKind.UNSUPPORTED,
                f"{action} at {provider!r} is not configured",
                provider=provider,
                action=action,
            )
        if not person:
            # A connected account belongs to a person: without one nobody's account may act.
            raise IntegrationError(
                ErrorKind.NEEDS_PERSON, "no person to act for", provider=provider, action=action
            )
        return adapter.perform(tenant, person, action, parameters, idempotency_key, timeout=timeout)


# Where the providers' APIs live in production; CAIRN_PROVIDER_URLS overrides a base URL (the
# tests point it at their local fakes: no code path differs but the URL).
DEFAULT_BASE_URLS = {
    "google": "https://www.googleapis.com",
    "microsoft": "https://graph.microsoft.com",
}


def connected_providers(
    base_urls: Mapping[str, str],
    tokens: ConnectionTokens,
    outbox: Outbox,
    fallback: Integrations | None = None,
    *,
    gmail_topic: str = "",
    seal: Seal | None = None,
) -> ProviderIntegrations:
    """Google and Microsoft through their adapters, every other provider through `fallback`.
    `seal` seals what searches read for the person (without it they keep ids and times only)."""
    from adapters.integrations.providers.google import GoogleAdapter
    from adapters.integrations.providers.google.mail_feed import GmailFeed
    from adapters.integrations.providers.microsoft import GraphAdapter
    from adapters.integrations.providers.microsoft.mail_feed import GraphMailFeed

    urls = {**DEFAULT_BASE_URLS, **base_urls}
    google = GoogleAdapter(urls["google"], tokens, outbox, seal=seal)
    microsoft = GraphAdapter(urls["microsoft"], tokens, outbox, seal=seal)
    routed = ProviderIntegrations({"google": google, "microsoft": microsoft}, fallback)
    routed.feeds = {"google": google.feed, "microsoft": microsoft.feed}
    routed.mail_feeds = {
        "google": GmailFeed(google.client, gmail_topic),
        "microsoft": GraphMailFeed(microsoft.client),
    }
    return routed
