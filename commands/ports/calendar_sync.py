"""What the calendar sync needs from the outside: each provider's feed API (push channels and
changes since a cursor) and the bookkeeping of channels, cursors and seen notifications.

Implemented by `adapters/integrations/providers/{google,microsoft}/feed.py` and
`adapters/integrations/webhooks_store.py`; used by `commands/integrations/sync.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID


class CursorExpired(Exception):
    """The provider no longer knows the cursor (Google 410 `fullSyncRequired`, Graph 410
    `syncStateNotFound`): only a full sync can follow."""


@dataclass(frozen=True)
class OpenedChannel:
    channel_id: str  # Google's channel id, Graph's subscription id
    resource_id: str  # Google's resourceId (needed to stop a channel); Graph: ""
    expires_at: datetime


@dataclass(frozen=True)
class CalendarItem:
    item_id: str
    version: str  # the provider's etag: a new one for each change
    title: str | None = None
    start: str | None = None
    end: str | None = None
    status: str = "confirmed"
    attendees: tuple[str, ...] = ()  # "Name <address>" of each but the person


@dataclass(frozen=True)
class Changes:
    items: list[CalendarItem]
    removed: list[str]
    cursor: str  # what the next delta sync starts from
    full: bool  # everything the provider holds (anything else the feed holds is gone)


@dataclass(frozen=True)
class ChannelRecord:
    channel_id: str
    feed_id: UUID
    tenant: str
    person: str
    provider: str
    resource_id: str
    secret_hash: bytes = field(repr=False)  # sha256 of the channel token / clientState
    expires_at: datetime
    # The subject of this channel's renewal timer: one per channel and expiry, so that the
    # renewal (fired under its own timer's row lock) sets the next one on another row.
    renewal_id: UUID | None = None


@dataclass(frozen=True)
class ChannelRequest:
    """The push channel Cairn asks a provider for: reporting to `address`, named
    `channel_id` (where the provider lets Cairn name it), carrying `secret` (Google's channel
    token, Graph's `clientState`), until `expires_at` (where the provider lets Cairn choose)."""

    address: str
    channel_id: str
    secret: str = field(repr=False)
    expires_at: datetime


class FeedChannelApi(Protocol):
    """A provider's push channels, alike for the calendar and the inbox."""

    def watch(self, tenant: str, person: str, request: ChannelRequest) -> OpenedChannel:
        """Open a push channel (subscription) reporting changes of the feed's resource."""
        ...

    def renew(
        self, tenant: str, person: str, old: ChannelRecord, request: ChannelRequest
    ) -> OpenedChannel:
        """Extend or replace the channel before it expires (Google channels cannot be
        extended: a new one replaces the old, which is stopped)."""
        ...

    def stop(self, tenant: str, person: str, channel: ChannelRecord) -> None:
        """Stop the channel (delete the subscription) at the provider; one it no longer
        knows counts as stopped."""
        ...


class CalendarFeedApi(FeedChannelApi, Protocol):
    def changes(self, tenant: str, person: str, cursor: str | None) -> Changes:
        """Changes since `cursor` (None: everything). Raises `CursorExpired`."""
        ...


class FeedStore(Protocol):
    def save_channel(self, record: ChannelRecord) -> None: ...

    def channel(self, channel_id: str) -> ChannelRecord | None:
        """A live (not retired) channel."""
        ...

    def retire_channel(self, channel_id: str) -> None: ...

    def live_channels(self, feed_id: UUID) -> list[ChannelRecord]:
        """The feed's channels not retired yet (expired ones too: they may still be open at
        the provider)."""
        ...

    def forget_cursor(self, feed_id: UUID) -> None:
        """The next sync of the feed is a full one."""
        ...

    def channel_to_renew(self, renewal_id: UUID) -> ChannelRecord | None:
        """The live channel whose renewal timer this is."""
        ...

    def cursor(self, feed_id: UUID) -> str | None: ...

    def set_cursor(self, feed_id: UUID, cursor: str) -> None: ...

    def first_seen(self, channel_id: str, notification: str) -> bool:
        """Record the notification; False if it was seen before (a duplicate or a replay)."""
        ...

    def forget_seen(self, before: datetime) -> int:
        """Drop the notifications first seen before `before`; returns how many."""
        ...
