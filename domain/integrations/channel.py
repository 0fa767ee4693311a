"""What the calendar and the inbox feeds (domain/integrations/sync.py, mail_feed.py) record
alike about their push channel: opened, renewed, a verified notification, a full resync, and
the feed closed.

`FeedChannel` holds the state changes; each feed makes them events in its own class body
(`open_channel = event("ChannelOpened")(FeedChannel.open_channel)`). An event's stored topic
is `<module>:<Aggregate>.<Event>` of the class whose body names it, so the events must be
named there: inherited `@event` methods would be stored under this module's topics, and the
feeds' stored events would no longer load.
"""

from __future__ import annotations

from datetime import datetime


class FeedChannel:
    """Mixed into an aggregate (not one itself: the event catalogue lists aggregates)."""

    def _follow(self, tenant: str, person: str, provider: str) -> None:
        """The state every feed starts with; its creation event's `__init__` calls this."""
        self.tenant = tenant
        self.person = person
        self.provider = provider
        self.channel_id: str | None = None
        self.channel_expires_at: datetime | None = None
        self.notifications = 0
        self.closed = False  # the connection went: no channel, no sync until opened again

    def open_channel(self, channel_id: str, expires_at: datetime) -> None:
        """A push channel (a Google channel or Gmail watch, a Graph subscription) now reports
        changes. Its secret (channel token, `clientState`), where there is one, is not here:
        only its hash, outside the event store."""
        self.channel_id = channel_id
        self.channel_expires_at = expires_at
        self.closed = False

    def renew_channel(self, channel_id: str, expires_at: datetime) -> None:
        self.channel_id = channel_id
        self.channel_expires_at = expires_at

    def close(self, reason: str) -> None:
        """Stop following (the account was disconnected, replaced or its person erased)."""
        if not self.closed:
            self._closed(reason)

    def _closed(self, reason: str) -> None:
        self.closed = True
        self.channel_id = None
        self.channel_expires_at = None

    def notified(self, channel_id: str, notification: str) -> None:
        """A verified notification, seen for the first time (a duplicate is dropped before it
        gets here)."""
        self.notifications += 1

    def start_full_resync(self, reason: str) -> None:
        pass
