"""What the mail sync needs from the outside: each provider's mail feed (a push channel on the
inbox and the changes since a cursor) and the check of Gmail's Pub/Sub push.

Implemented by `adapters/integrations/providers/{google,microsoft}/mail_feed.py` and
`adapters/integrations/pubsub.py`; used by `commands/integrations/mail_sync.py`. Channels,
cursors and seen notifications are kept in the calendar sync's `FeedStore`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

from commands.ports.calendar_sync import FeedChannelApi


class PushRejected(Exception):
    """A push whose bearer token is missing, not signed by the provider, expired, for another
    audience or from another sender."""


@dataclass(frozen=True)
class MailItem:
    message_id: str
    # Personal: sealed for the person before they are recorded. Never the body.
    sender: str = field(default="", repr=False)
    subject: str = field(default="", repr=False)
    snippet: str = field(default="", repr=False)
    received_at: str | None = None
    thread_id: str | None = None


@dataclass(frozen=True)
class MailChanges:
    items: list[MailItem]  # messages new to the inbox (those in `known` left out)
    removed: list[str]  # message ids that left the inbox
    cursor: str  # Gmail's historyId, Graph's deltaLink
    full: bool  # everything in the inbox: a message the feed holds that is not listed is gone
    listed: frozenset[str] = frozenset()  # with `full`: every message id in the inbox


class MailFeedApi(FeedChannelApi, Protocol):
    """The inbox's channel: Gmail names its own channel (the mailbox) and ignores the
    request's address and secret (its push comes through Pub/Sub)."""

    def changes(
        self, tenant: str, person: str, cursor: str | None, known: Collection[str]
    ) -> MailChanges:
        """Changes since `cursor` (None: the whole inbox), with the details of messages not
        in `known`. Raises `CursorExpired`."""
        ...


class PushVerifier(Protocol):
    def verify(self, authorization: str | None) -> None:
        """Check the push's `Authorization` header; raises `PushRejected`."""
        ...
