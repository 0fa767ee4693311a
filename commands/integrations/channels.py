"""What the calendar and the inbox feeds do alike with their push channels
(commands/integrations/sync.py, mail_sync.py): open one (or find the live one on a reconnect),
renew it before it expires, keep its bookkeeping and its renewal timer, and stop them all."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from commands.application import CairnApplication
from commands.ports.calendar_sync import (
    ChannelRecord,
    ChannelRequest,
    FeedChannelApi,
    FeedStore,
    OpenedChannel,
)
from commands.ports.timers import Timer, Timers
from commands.ports.vault import Vault
from domain.event_context import EventContext
from domain.integrations.mail_feed import MailFeed
from domain.integrations.sync import CalendarFeed

ACTOR = "cairn-sync"

FeedT = TypeVar("FeedT", CalendarFeed, MailFeed)
ApiT = TypeVar("ApiT", bound=FeedChannelApi)


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass
class FeedChannels(Generic[FeedT, ApiT]):
    """One kind of feed (its aggregate, its provider APIs) and its channels."""

    app: CairnApplication  # the feeds' application: calendar and mail feeds in one
    store: FeedStore
    timers: Timers
    vault: Vault
    webhook_base_url: str
    # Each provider's feed API; empty where no connected-account tokens are configured (an
    # API process verifies and records notifications without them, a worker syncs).
    apis: Mapping[str, ApiT] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Graph allows subscriptions of at most 10,080 minutes, Gmail's watch lasts seven days;
    # three days, renewed half a day before they end, leaves a down worker time to come back.
    channel_ttl: timedelta = timedelta(days=3)
    renew_before: timedelta = timedelta(hours=12)

    # The feed's timers, and what its log lines call its channel.
    sync_kind: ClassVar[str]
    renew_kind: ClassVar[str]
    channel_name: ClassVar[str]
    log: ClassVar[logging.Logger]

    def feed_type(self) -> type[FeedT]:
        raise NotImplementedError

    def address(self, provider: str) -> str:
        return f"{self.webhook_base_url.rstrip('/')}/v1/integrations/webhooks/{provider}"

    def watch(self, tenant: str, person: str, provider: str) -> UUID:
        """Follow the person's resource at `provider`: the feed, a push channel, a first sync.
        Idempotent, as the connection's feed timer fires again after any retryable failure:
        a live channel keeps reporting, its renewal is set again (one dropped while the grant
        was dead) and a delta sync catches up."""
        ident = self.feed_type().create_id(tenant, person, provider)
        try:
            feed = self._feed(ident)
        except AggregateNotFoundError:
            feed = self.feed_type()(tenant=tenant, person=person, provider=provider)
        live = self._live(feed)
        if live is not None:
            due = max(live.expires_at - self.renew_before, self.clock())
            if live.renewal_id is not None:
                self.timers.schedule(Timer(self.renew_kind, live.renewal_id, UUID(tenant), due))
            self.timers.schedule(Timer(self.sync_kind, ident, UUID(tenant), self.clock()))
            return ident
        secret = secrets.token_urlsafe(32)
        opened = self.apis[provider].watch(tenant, person, self._request(provider, secret))
        self._replacing(feed, opened)
        self._keep_channel(feed, opened, secret_hash(secret))
        feed.open_channel(opened.channel_id, opened.expires_at)
        self._save(feed)
        self.timers.schedule(Timer(self.sync_kind, ident, UUID(tenant), self.clock()))
        return ident

    def _replacing(self, feed: FeedT, opened: OpenedChannel) -> None:
        """Before a newly opened channel is kept: what the feed must let go of."""

    def close(self, tenant: str, person: str, provider: str, reason: str) -> None:
        """Stop following: channels stopped at the provider (best effort, while the tokens
        still exist: one left open expires there) and retired here (refused from now on)."""
        ident = self.feed_type().create_id(tenant, person, provider)
        try:
            feed = self._feed(ident)
        except AggregateNotFoundError:
            return
        self._stop_all(ident, tenant, person, provider)
        feed.close(reason)
        self._save(feed)

    def renew(self, renewal_id: UUID) -> None:
        """Renew the channel whose renewal timer `renewal_id` is (gone or renewed already:
        nothing to do)."""
        old = self.store.channel_to_renew(renewal_id)
        if old is None:
            return
        feed = self._feed(old.feed_id)
        secret = secrets.token_urlsafe(32)
        request = self._request(feed.provider, secret)
        opened = self.apis[feed.provider].renew(feed.tenant, feed.person, old, request)
        if opened.channel_id != old.channel_id:
            self.store.retire_channel(old.channel_id)
            hashed = secret_hash(secret)
        else:
            hashed = old.secret_hash  # the same subscription keeps its clientState
        self._keep_channel(feed, opened, hashed)
        feed.renew_channel(opened.channel_id, opened.expires_at)
        self._save(feed)

    def _request(self, provider: str, secret: str) -> ChannelRequest:
        expires = self.clock() + self.channel_ttl
        return ChannelRequest(self.address(provider), str(uuid.uuid4()), secret, expires)

    def _live(self, feed: FeedT) -> ChannelRecord | None:
        """The feed's channel if it is open and not expired."""
        record = None if feed.closed or not feed.channel_id else self.store.channel(feed.channel_id)
        return record if record is not None and record.expires_at > self.clock() else None

    def _stop_all(self, ident: UUID, tenant: str, person: str, provider: str) -> None:
        """Stop every channel of the feed at the provider (best effort, while the tokens still
        exist: one left open expires there), retire it here (refused from now on), and drop
        the cursor: whatever comes next (another account, a reconnect) starts with a full
        sync."""
        api, what = self.apis.get(provider), f"{provider} {self.channel_name}"
        for channel in self.store.live_channels(ident):
            try:
                if api is not None:
                    api.stop(tenant, person, channel)
            except Exception as exc:
                self.log.warning("%s not stopped at the provider (%r)", what, exc)
            self.store.retire_channel(channel.channel_id)
        self.store.forget_cursor(ident)

    def _keep_channel(self, feed: FeedT, opened: OpenedChannel, hashed: bytes) -> None:
        renewal = uuid.uuid5(feed.id, f"{opened.channel_id}:{opened.expires_at.isoformat()}")
        record = ChannelRecord(
            opened.channel_id,
            feed.id,
            feed.tenant,
            feed.person,
            feed.provider,
            opened.resource_id,
            hashed,
            opened.expires_at,
            renewal,
        )
        self.store.save_channel(record)
        due = max(opened.expires_at - self.renew_before, self.clock())
        self.timers.schedule(Timer(self.renew_kind, renewal, UUID(feed.tenant), due))

    def _feed(self, ident: UUID) -> FeedT:
        feed: object = self.app.repository.get(ident)
        assert isinstance(feed, self.feed_type())
        return feed

    def _save(self, feed: FeedT) -> None:
        self.app.save(feed, context=EventContext(tenant=feed.tenant, actor=ACTOR))
