"""A person's inbox at one provider as Cairn follows it: push channel, notifications and the
synced messages (docs/integrations-providers.md, decision 0034).

Like the calendar feed (domain/integrations/sync.py), a verified notification is an event
(`ChangeNotified`) that only asks for a delta sync. The sync records each message it has not
seen as `MailSynced`: who sent it, its subject and the provider's snippet (never the body),
sealed for the person so that erasing the person shreds them; the times and thread id are
plain. A received message does not change, so a message is recorded once: a full resync
(after the provider expired the history id or delta link) repeats nothing. A message that
left the inbox (deleted, archived) is `MailRemoved`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.integrations.channel import FeedChannel
from domain.integrations.sync import feed_id

MAIL = "mail"  # the feed's resource in its derived id


def mail_feed_id(tenant: str, person: str, provider: str) -> UUID:
    return feed_id(tenant, person, provider, MAIL)


def gmail_channel_id(email_address: str) -> str:
    """Gmail's push names the mailbox, not a channel: the channel is the mailbox's hash (the
    address itself is personal data and stays out of the bookkeeping)."""
    digest = hashlib.sha256(email_address.strip().lower().encode()).hexdigest()
    return f"gmail:{digest}"


class MailFeed(FeedChannel, Aggregate):
    if TYPE_CHECKING:
        MailFeedStarted: ClassVar[type[Aggregate.Event]]
        ChannelOpened: ClassVar[type[Aggregate.Event]]
        ChannelRenewed: ClassVar[type[Aggregate.Event]]
        FeedClosed: ClassVar[type[Aggregate.Event]]
        ChangeNotified: ClassVar[type[Aggregate.Event]]
        FullResyncStarted: ClassVar[type[Aggregate.Event]]
        MailSynced: ClassVar[type[Aggregate.Event]]
        MailRemoved: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(tenant: str, person: str, provider: str, **_: object) -> UUID:
        return mail_feed_id(tenant, person, provider)

    @event("MailFeedStarted")
    def __init__(self, tenant: str, person: str, provider: str) -> None:
        self._follow(tenant, person, provider)
        self.messages: set[str] = set()  # provider message ids in the inbox

    # The channel's events, named here so that they keep this class's topics (channel.py).
    open_channel = event("ChannelOpened")(FeedChannel.open_channel)
    renew_channel = event("ChannelRenewed")(FeedChannel.renew_channel)
    _closed = event("FeedClosed")(FeedChannel._closed)
    notified = event("ChangeNotified")(FeedChannel.notified)
    start_full_resync = event("FullResyncStarted")(FeedChannel.start_full_resync)

    def sync_message(self, message_id: str, sealed: dict[str, str], fields: dict[str, Any]) -> bool:
        """Record a message the feed does not hold yet; False when it holds it already.
        `sealed`: sender, subject and snippet sealed for the person; `fields`: the rest."""
        if message_id in self.messages:
            return False
        self._synced(message_id, sealed, fields)
        return True

    @event("MailSynced")
    def _synced(self, message_id: str, sealed: dict[str, str], fields: dict[str, Any]) -> None:
        self.messages.add(message_id)

    def remove_message(self, message_id: str) -> bool:
        if message_id not in self.messages:
            return False
        self._removed(message_id)
        return True

    @event("MailRemoved")
    def _removed(self, message_id: str) -> None:
        self.messages.discard(message_id)
