"""What the calendar and the inbox feeds do alike with their push channels
(commands/integrations/sync.py, mail_sync.py): the live one of a feed, and stopping them all."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol
from uuid import UUID

from commands.ports.calendar_sync import ChannelRecord, FeedStore


class Stops(Protocol):
    def stop(self, tenant: str, person: str, channel: ChannelRecord) -> None: ...


class FollowsChannel(Protocol):
    @property
    def closed(self) -> bool: ...

    @property
    def channel_id(self) -> str | None: ...


def live_channel(store: FeedStore, feed: FollowsChannel, now: datetime) -> ChannelRecord | None:
    """The feed's channel if it is open and not expired."""
    record = None if feed.closed or not feed.channel_id else store.channel(feed.channel_id)
    return record if record is not None and record.expires_at > now else None


def stop_channels(
    store: FeedStore,
    api: Stops | None,
    feed_id: UUID,
    tenant: str,
    person: str,
    what: str,
    log: logging.Logger,
) -> None:
    """Stop every channel of the feed at the provider (best effort, while the tokens still
    exist: one left open expires there), retire it here (refused from now on), and drop the
    cursor: whatever comes next (another account, a reconnect) starts with a full sync."""
    for channel in store.live_channels(feed_id):
        try:
            if api is not None:
                api.stop(tenant, person, channel)
        except Exception as exc:
            log.warning("%s not stopped at the provider (%r)", what, exc)
        store.retire_channel(channel.channel_id)
    store.forget_cursor(feed_id)
