"""Follow people's calendars: open and renew push channels, take verified notifications, and
sync what changed into `CalendarFeed` events (docs/integrations-providers.md).

A notification is only a hint: verified (known live channel, its secret compared in constant
time, the resource it names), seen once (a duplicate or a replay is dropped), it is recorded
as `ChangeNotified` and sets the feed's sync timer, which a worker fires. The sync asks the
provider for the changes since the feed's cursor; an expired cursor starts a full resync, and
since an item is recorded only when its version differs, the resync repeats no fact.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import ClassVar
from uuid import UUID

from commands.application import CairnApplication
from commands.integrations.channels import ACTOR, FeedChannels, secret_hash
from commands.integrations.pruning import PRUNE, prune_seen
from commands.ports.calendar_sync import CalendarFeedApi, ChannelRecord, CursorExpired
from commands.ports.integrations import ErrorKind, IntegrationError
from commands.ports.timers import Timer
from domain.errors import Forbidden
from domain.event_context import EventContext
from domain.integrations.mail_feed import MailFeed
from domain.integrations.sync import CalendarFeed

logger = logging.getLogger("cairn.integrations.sync")

SYNC = "integrations.calendar_sync"
RENEW = "integrations.channel_renewal"
KINDS = frozenset({SYNC, RENEW, PRUNE})
# The inbox's timers (mail_sync.py): a Graph inbox notification is checked below, too.
MAIL_SYNC = "integrations.mail_sync"
MAIL_RENEW = "integrations.mail_channel_renewal"


class FeedsApplication(CairnApplication):
    """Calendar feeds, stored in the event store."""


class WebhookRejected(Forbidden):
    """A notification that is not from a live channel of Cairn's: nothing changes."""

    code = "webhook_rejected"


class Verdict(StrEnum):
    ACCEPTED = "accepted"  # recorded; a delta sync follows
    DUPLICATE = "duplicate"  # seen before: nothing changes
    IGNORED = "ignored"  # verified, but asks for nothing (Google's "sync" handshake)


def verify_secret(presented: str | None, record: ChannelRecord) -> bool:
    """Constant time: how much of a guessed token was right must not show in the timing."""
    return hmac.compare_digest(secret_hash(presented or ""), record.secret_hash)


@dataclass
class FeedSync(FeedChannels[CalendarFeed, CalendarFeedApi]):
    """The people's calendars; their channels are channels.py's."""

    sync_kind: ClassVar[str] = SYNC
    renew_kind: ClassVar[str] = RENEW
    channel_name: ClassVar[str] = "channel"
    log: ClassVar[logging.Logger] = logger

    def feed_type(self) -> type[CalendarFeed]:
        return CalendarFeed

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
