"""Follow people's calendars: open and renew push channels, take verified notifications, and
sync what changed into `CalendarFeed` events (docs/integrations-providers.md).

A notification is only a hint: verified (known live channel, its secret compared in constant
time, the resource it names), seen once (a duplicate or a replay is dropped), it is recorded
as `ChangeNotified` and sets the feed's sync timer, which a worker fires. The sync asks the
provider for the changes since the feed's cursor; an expired cursor starts a full resync, and
since an item is recorded only when its version differs, the resync repeats no fact.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from commands.application import CairnApplication
from commands.integrations.channels import live_channel, stop_channels
from commands.integrations.pruning import PRUNE, prune_seen
from commands.ports.calendar_sync import CalendarFeedApi, ChannelRecord, CursorExpired, FeedStore
from commands.ports.integrations import ErrorKind, IntegrationError
from commands.ports.timers import Timer, Timers
from commands.ports.vault import Vault
from domain.errors import Forbidden
from domain.event_context import EventContext
from domain.integrations.mail_feed import MailFeed
from domain.integrations.sync import CalendarFeed, feed_id

logger = logging.getLogger("cairn.integrations.sync")

SYNC = "integrations.calendar_sync"
RENEW = "integrations.channel_renewal"
KINDS = frozenset({SYNC, RENEW, PRUNE})
# The inbox's timers (mail_sync.py): a Graph inbox notification is checked below, too.
MAIL_SYNC = "integrations.mail_sync"
MAIL_RENEW = "integrations.mail_channel_renewal"
ACTOR = "cairn-sync"


class FeedsApplication(CairnApplication):
    """Calendar feeds, stored in the event store."""


class WebhookRejected(Forbidden):
    """A notification that is not from a live channel of Cairn's: nothing changes."""

    code = "webhook_rejected"


class Verdict(StrEnum):
    ACCEPTED = "accepted"  # recorded; a delta sync follows
    DUPLICATE = "duplicate"  # seen before: nothing changes
    IGNORED = "ignored"  # verified, but asks for nothing (Google's "sync" handshake)


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def verify_secret(presented: str | None, record: ChannelRecord) -> bool:
    """Constant time: how much of a guessed token was right must not show in the timing."""
    return hmac.compare_digest(secret_hash(presented or ""), record.secret_hash)


@dataclass
class FeedSync:
    app: CairnApplication
    store: FeedStore
    timers: Timers
    vault: Vault
    webhook_base_url: str
    # Each provider's feed API; empty where no connected-account tokens are configured (an
    # API process verifies and records notifications without them, a worker syncs).
    apis: Mapping[str, CalendarFeedApi] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Graph allows calendar subscriptions of at most 10,080 minutes; three days, renewed half
    # a day before they end, leaves a down worker time to come back.
    channel_ttl: timedelta = timedelta(days=3)
    renew_before: timedelta = timedelta(hours=12)

    def address(self, provider: str) -> str:
        return f"{self.webhook_base_url.rstrip('/')}/v1/integrations/webhooks/{provider}"

    # Channels

    def watch(self, tenant: str, person: str, provider: str) -> UUID:
        """Follow the person's primary calendar at `provider`: the feed, a push channel, and a
        first (full) sync."""
        ident = feed_id(tenant, person, provider)
        try:
            feed = self._feed(ident)
        except AggregateNotFoundError:
            feed = CalendarFeed(tenant=tenant, person=person, provider=provider)
        live = self._live(feed)
        if live is not None:
            # A reconnect: the open channel keeps reporting. Its renewal is set again (one
            # dropped while the grant was dead), a delta sync catches up.
            due = max(live.expires_at - self.renew_before, self.clock())
            if live.renewal_id is not None:
                self.timers.schedule(Timer(RENEW, live.renewal_id, UUID(tenant), due))
            self.timers.schedule(Timer(SYNC, ident, UUID(tenant), self.clock()))
            return ident
        channel_id, secret = str(uuid.uuid4()), secrets.token_urlsafe(32)
        expires = self.clock() + self.channel_ttl
        opened = self.apis[provider].watch(
            tenant, person, self.address(provider), channel_id, secret, expires
        )
        self._keep_channel(feed, opened.channel_id, opened.resource_id, secret, opened.expires_at)
        feed.open_channel(opened.channel_id, opened.expires_at)
        self._save(feed)
        self.timers.schedule(Timer(SYNC, ident, UUID(tenant), self.clock()))
        return ident

    def close(self, tenant: str, person: str, provider: str, reason: str) -> None:
        """Stop following: channels stopped at the provider (best effort, while the tokens
        still exist: one left open expires there) and retired here (refused from now on)."""
        ident = feed_id(tenant, person, provider)
        try:
            feed = self._feed(ident)
        except AggregateNotFoundError:
            return
        what = f"{provider} channel"
        stop_channels(self.store, self.apis.get(provider), ident, tenant, person, what, logger)
        feed.close(reason)
        self._save(feed)

    def _live(self, feed: CalendarFeed) -> ChannelRecord | None:
        return live_channel(self.store, feed, self.clock())

    def renew(self, renewal_id: UUID) -> None:
        """Renew the channel whose renewal timer `renewal_id` is (gone or renewed already:
        nothing to do)."""
        old = self.store.channel_to_renew(renewal_id)
        if old is None:
            return
        feed = self._feed(old.feed_id)
        channel_id, secret = str(uuid.uuid4()), secrets.token_urlsafe(32)
        expires = self.clock() + self.channel_ttl
        opened = self.apis[feed.provider].renew(
            feed.tenant, feed.person, old, self.address(feed.provider), channel_id, secret, expires
        )
        if opened.channel_id != old.channel_id:
            self.store.retire_channel(old.channel_id)
            secret_for_new = secret
        else:
            secret_for_new = None  # the same subscription keeps its clientState
        self._keep_channel(
            feed, opened.channel_id, opened.resource_id, secret_for_new, opened.expires_at, old
        )
        feed.renew_channel(opened.channel_id, opened.expires_at)
        self._save(feed)

    def _keep_channel(
        self,
        feed: CalendarFeed,
        channel_id: str,
        resource_id: str,
        secret: str | None,
        expires_at: datetime,
        old: ChannelRecord | None = None,
    ) -> None:
        hashed = secret_hash(secret) if secret is not None else old.secret_hash if old else b""
        renewal = uuid.uuid5(feed.id, f"{channel_id}:{expires_at.isoformat()}")
        record = ChannelRecord(
            channel_id,
            feed.id,
            feed.tenant,
            feed.person,
            feed.provider,
            resource_id,
            hashed,
            expires_at,
            renewal,
        )
        self.store.save_channel(record)
        due = max(expires_at - self.renew_before, self.clock())
        self.timers.schedule(Timer(RENEW, renewal, UUID(feed.tenant), due))

    # Notifications

    def notification(
        self,
        provider: str,
        channel_id: str,
        secret: str | None,
        notification: str,
        *,
        resource_id: str | None = None,
        wants_sync: bool = True,
    ) -> Verdict:
        """A provider's notification as the webhook received it. Raises `WebhookRejected`
        for an unknown, retired, expired or other provider's channel, a wrong secret or a
        resource that is not the channel's."""
        record = self.store.channel(channel_id)
        if (
            record is None
            or record.provider != provider
            or not verify_secret(secret, record)
            or record.expires_at <= self.clock()
            or (
                resource_id is not None
                and not hmac.compare_digest(resource_id.encode(), record.resource_id.encode())
            )
        ):
            logger.warning("a %s notification for no live channel of Cairn's: dropped", provider)
            raise WebhookRejected("this notification is for no live channel")
        if not self.store.first_seen(channel_id, notification):
            return Verdict.DUPLICATE
        if not wants_sync:
            return Verdict.IGNORED
        feed: object = self.app.repository.get(record.feed_id)
        assert isinstance(feed, CalendarFeed | MailFeed)
        feed.notified(channel_id, notification)
        self.app.save(feed, context=EventContext(tenant=feed.tenant, actor=ACTOR))
        kind = MAIL_SYNC if isinstance(feed, MailFeed) else SYNC
        self.timers.schedule(Timer(kind, feed.id, UUID(feed.tenant), self.clock()))
        return Verdict.ACCEPTED

    # Sync

    def sync(self, ident: UUID) -> int:
        """One delta sync (a full one when the cursor expired); returns the facts recorded."""
        feed = self._feed(ident)
        if feed.closed:
            return 0  # a sync asked for before the connection went
        api = self.apis[feed.provider]
        cursor = self.store.cursor(ident)
        try:
            changes = api.changes(feed.tenant, feed.person, cursor)
        except CursorExpired:
            feed.start_full_resync("the provider expired the sync cursor")
            changes = api.changes(feed.tenant, feed.person, None)
        recorded = 0
        listed = set()
        for item in changes.items:
            listed.add(item.item_id)
            if item.status == "cancelled":
                recorded += feed.remove_item(item.item_id)
                continue
            if feed.items.get(item.item_id) == item.version:
                continue  # sealing costs a key lookup: skip what is known
            sealed = self._sealed(
                feed, title=item.title, attendees="\n".join(item.attendees) or None
            )
            fields = {"start": item.start, "end": item.end, "status": item.status}
            recorded += feed.sync_item(item.item_id, item.version, sealed, fields)
        gone = list(changes.removed)
        if changes.full:
            gone += [known for known in feed.items if known not in listed]
        for item_id in gone:
            recorded += feed.remove_item(item_id)
        self._save(feed)
        # After the facts: a crash in between syncs from the old cursor again, and the
        # versions the feed holds keep that from recording anything twice.
        self.store.set_cursor(ident, changes.cursor)
        return recorded

    def on_timer(self, timer: Timer) -> None:
        try:
            if timer.kind == SYNC:
                self.sync(timer.subject_id)
            elif timer.kind == RENEW:
                self.renew(timer.subject_id)
            elif timer.kind == PRUNE:
                prune_seen(self.store, self.timers, self.clock())
        except IntegrationError as exc:
            if exc.kind is not ErrorKind.NEEDS_PERSON:
                raise  # fired again with backoff
            # Disconnected or a dead grant: no retry cures it; a new connect opens the feed.
            logger.info("%s of %s dropped: %s", timer.kind, timer.subject_id, exc.kind)

    def _sealed(self, feed: CalendarFeed, **plain: str | None) -> dict[str, str]:
        seal = partial(self.vault.seal_personal, feed.tenant, feed.person)  # calendar.<name>
        return {k: seal(f"calendar.{k}", v) for k, v in plain.items() if v is not None}

    def _feed(self, ident: UUID) -> CalendarFeed:
        feed: object = self.app.repository.get(ident)
        assert isinstance(feed, CalendarFeed)
        return feed

    def _save(self, feed: CalendarFeed) -> None:
        self.app.save(feed, context=EventContext(tenant=feed.tenant, actor=ACTOR))
