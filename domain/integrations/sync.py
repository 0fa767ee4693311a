"""A person's calendar at one provider as Cairn follows it: push channel, notifications and
the synced facts (docs/integrations-providers.md).

A verified notification is an event (`ChangeNotified`) that only asks for a delta sync; the
sync records what changed as `CalendarEventSynced` / `CalendarEventRemoved`, each only when
the item's version (the provider's etag) differs from what the feed holds, so a full resync
(after the provider expired the sync token) repeats nothing. Titles are personal data: they
are stored sealed for the person (crypto-shredding), like every personal field.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.integrations.channel import FeedChannel

_NAMESPACE = uuid.UUID("5b0c7a52-3f0e-4f43-9a0f-7f3c1f6f2a15")


def feed_id(tenant: str, person: str, provider: str, resource: str = "calendar") -> UUID:
    """One feed per person, provider and resource: derived, so every process finds it."""
    return uuid.uuid5(_NAMESPACE, f"{tenant}:{person}:{provider}:{resource}")


class CalendarFeed(FeedChannel, Aggregate):
    if TYPE_CHECKING:
        FeedStarted: ClassVar[type[Aggregate.Event]]
        ChannelOpened: ClassVar[type[Aggregate.Event]]
        ChannelRenewed: ClassVar[type[Aggregate.Event]]
        FeedClosed: ClassVar[type[Aggregate.Event]]
        ChangeNotified: ClassVar[type[Aggregate.Event]]
        FullResyncStarted: ClassVar[type[Aggregate.Event]]
        CalendarEventSynced: ClassVar[type[Aggregate.Event]]
        CalendarEventRemoved: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(tenant: str, person: str, provider: str, **_: object) -> UUID:
        return feed_id(tenant, person, provider)

    @event("FeedStarted")
    def __init__(self, tenant: str, person: str, provider: str) -> None:
        self._follow(tenant, person, provider)
        self.items: dict[str, str] = {}  # provider item id -> version (etag)

    # The channel's events, named here so that they keep this class's topics (channel.py).
    open_channel = event("ChannelOpened")(FeedChannel.open_channel)
    renew_channel = event("ChannelRenewed")(FeedChannel.renew_channel)
    _closed = event("FeedClosed")(FeedChannel._closed)
    notified = event("ChangeNotified")(FeedChannel.notified)
    start_full_resync = event("FullResyncStarted")(FeedChannel.start_full_resync)

    def sync_item(
        self, item_id: str, version: str, sealed: dict[str, str], fields: dict[str, Any]
    ) -> bool:
        """Record the item if it is new or changed (its provider-side `version`, the etag,
        differs); False when the feed holds this version already. `sealed` are the personal
        fields sealed for the person, `fields` the rest (times, status)."""
        if self.items.get(item_id) == version:
            return False
        self._synced(item_id, version, sealed, fields)
        return True

    @event("CalendarEventSynced")
    def _synced(
        self, item_id: str, version: str, sealed: dict[str, str], fields: dict[str, Any]
    ) -> None:
        self.items[item_id] = version

    def remove_item(self, item_id: str) -> bool:
        if item_id not in self.items:
            return False
        self._removed(item_id)
        return True

    @event("CalendarEventRemoved")
    def _removed(self, item_id: str) -> None:
        del self.items[item_id]
