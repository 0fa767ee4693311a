"""Follow people's inboxes: open and renew the providers' push channels, take verified
notifications, and sync new messages into `MailFeed` events (docs/integrations-providers.md,
decision 0034).

The calendar sync's rules hold (commands/integrations/sync.py): a notification is only a hint,
verified and seen once; it records `ChangeNotified` and sets the feed's sync timer; the sync
asks for the changes since the feed's cursor and an expired cursor starts a full resync that
repeats no fact. Graph's inbox subscriptions post to the same webhook as its calendar ones and
are verified there (`FeedSync.notification`, `clientState`); Gmail's push comes through Cloud
Pub/Sub, whose OIDC token is checked here (`gmail_push`).
"""

from __future__ import annotations

import binascii
import json
import logging
from base64 import b64decode
from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from commands.integrations.channels import FeedChannels
from commands.integrations.sync import (
    MAIL_RENEW,
    MAIL_SYNC,
    FeedSync,
    Verdict,
    WebhookRejected,
)
from commands.ports.calendar_sync import CursorExpired, OpenedChannel
from commands.ports.mail_sync import MailFeedApi, MailItem, PushRejected, PushVerifier
from commands.ports.timers import Timer
from domain.errors import InvalidInput
from domain.integrations.mail_feed import MailFeed, gmail_channel_id

logger = logging.getLogger("cairn.integrations.mail")

KINDS = frozenset({MAIL_SYNC, MAIL_RENEW})
SEALED = ("sender", "subject", "snippet")  # sealed as field "mail.<name>"
SNIPPET_MAX = 255  # Graph's bodyPreview length; Gmail's snippets are shorter


@dataclass(frozen=True)
class GmailPush:
    """What a Pub/Sub push envelope says (its `message.data`, decoded)."""

    message_id: str
    email_address: str
    history_id: int

    @classmethod
    def from_envelope(cls, message_id: str, data: str) -> GmailPush:
        try:
            decoded = json.loads(b64decode(data, validate=False))
            return cls(message_id, str(decoded["emailAddress"]), int(decoded["historyId"]))
        except (ValueError, TypeError, KeyError, binascii.Error):
            raise InvalidInput("not a Gmail notification: message.data") from None


@dataclass
class MailSync(FeedChannels[MailFeed, MailFeedApi]):
    """The people's inboxes; their channels are channels.py's."""

    # Checks Gmail's Pub/Sub push; None refuses every Gmail push (not configured).
    gmail_push_verifier: PushVerifier | None = None

    sync_kind: ClassVar[str] = MAIL_SYNC
    renew_kind: ClassVar[str] = MAIL_RENEW
    channel_name: ClassVar[str] = "inbox channel"
    log: ClassVar[logging.Logger] = logger

    @classmethod
    def beside(cls, feeds: FeedSync, gmail_push_verifier: PushVerifier | None) -> MailSync:
        """The inboxes of the people whose calendars `feeds` follows: the same application,
        bookkeeping, timers, vault and webhook address."""
        return cls(
            feeds.app,
            feeds.store,
            feeds.timers,
            feeds.vault,
            feeds.webhook_base_url,
            gmail_push_verifier=gmail_push_verifier,
        )

    def feed_type(self) -> type[MailFeed]:
        return MailFeed

    def _replacing(self, feed: MailFeed, opened: OpenedChannel) -> None:
        if feed.channel_id is not None and feed.channel_id != opened.channel_id:
            # Another subscription, or another mailbox (the person connected another Gmail
            # account): the old channel is refused from now on, and the cursor, which may be
            # another mailbox's history id, is dropped: the next sync is a full one.
            self.store.retire_channel(feed.channel_id)
            self.store.set_cursor(feed.id, "")

    # Gmail's push

    def gmail_push(self, authorization: str | None, push: GmailPush) -> Verdict:
        """A Pub/Sub push of a Gmail change. Raises `WebhookRejected` unless its OIDC token
        is Google's, for Cairn's audience and from the configured service account. A verified
        push for a mailbox Cairn does not follow is acknowledged and ignored (Pub/Sub would
        otherwise deliver it again for days); one seen before, or no newer than what the feed
        has synced, is a duplicate."""
        if self.gmail_push_verifier is None:
            raise WebhookRejected("Gmail push is not configured")
        try:
            self.gmail_push_verifier.verify(authorization)
        except PushRejected as exc:
            logger.warning("a Gmail push without a valid token: dropped (%s)", exc)
            raise WebhookRejected("this push is not from Cairn's Pub/Sub subscription") from None
        channel_id = gmail_channel_id(push.email_address)
        record = self.store.channel(channel_id)
        if record is None or record.provider != "google" or record.expires_at <= self.clock():
            return Verdict.IGNORED
        if not self.store.first_seen(channel_id, f"pubsub:{push.message_id}"):
            return Verdict.DUPLICATE
        cursor = self.store.cursor(record.feed_id)
        if cursor is not None and cursor.isdigit() and push.history_id <= int(cursor):
            return Verdict.DUPLICATE  # synced past it already (a replay under a new id)
        feed = self._feed(record.feed_id)
        feed.notified(channel_id, f"pubsub:{push.message_id}")
        self._save(feed)
        self.timers.schedule(Timer(MAIL_SYNC, feed.id, UUID(feed.tenant), self.clock()))
        return Verdict.ACCEPTED

    # Sync

    def sync(self, ident: UUID) -> int:
        """One delta sync (a full one when the cursor expired); returns the facts recorded."""
        feed = self._feed(ident)
        if feed.closed:
            return 0  # a sync asked for before the connection went
        api = self.apis[feed.provider]
        try:
            cursor = self.store.cursor(ident) or None  # "": start over
            changes = api.changes(feed.tenant, feed.person, cursor, feed.messages)
        except CursorExpired:
            feed.start_full_resync("the provider expired the sync cursor")
            changes = api.changes(feed.tenant, feed.person, None, feed.messages)
        recorded = 0
        for item in changes.items:
            if item.message_id not in feed.messages:
                recorded += feed.sync_message(item.message_id, *self._split(feed, item))
        gone = list(changes.removed)
        if changes.full:
            gone += [known for known in feed.messages if known not in changes.listed]
        for message_id in gone:
            recorded += feed.remove_message(message_id)
        self._save(feed)
        # After the facts: a crash in between syncs from the old cursor again, and the
        # messages the feed holds keep that from recording anything twice.
        self.store.set_cursor(ident, changes.cursor)
        return recorded

    def _split(self, feed: MailFeed, item: MailItem) -> tuple[dict[str, str], dict[str, object]]:
        values = {"sender": item.sender, "subject": item.subject, "snippet": item.snippet}
        values["snippet"] = values["snippet"][:SNIPPET_MAX]
        sealed = {
            name: self.vault.seal_personal(feed.tenant, feed.person, f"mail.{name}", value)
            for name, value in values.items()
            if value
        }
        return sealed, {"received_at": item.received_at, "thread_id": item.thread_id}

    def on_timer(self, timer: Timer) -> None:
        if timer.kind == MAIL_SYNC:
            self.sync(timer.subject_id)
        elif timer.kind == MAIL_RENEW:
            self.renew(timer.subject_id)
