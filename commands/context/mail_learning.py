"""Synced mail becomes knowledge (docs/context.md): the background learner's rule for
`MailSynced` (domain/context/mail.py), no model.

Each received message is a memory of kind mail ("E-mail from <sender>: <subject>"), its id
derived from the feed and the message, whose facts cite `MailFeed:<id>:<version>`: the
sender is a person with the address. The message's sealed fields (sealed for the person) are
opened here; what is learnt is sealed again under the memory's own subject, so forgetting the
memory shreds it, and erasing the person (commands/context/forget.py, `forget_person`)
forgets every memory. A message whose fields open as erased (the person is gone) teaches
nothing. The memory's id makes it once per message: a redelivered event, or the same
message synced again, adds nothing, and a forgotten message is not learnt back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from commands.context.application import ContextPorts, find
from commands.context.notes import note
from commands.ports.vault import Erased
from domain.context.mail import ReceivedMail, facts_from_mail, sender_of
from domain.event_context import EventContext

ACTOR = "cairn-context"


@dataclass(frozen=True)
class SyncedMail:
    """A `MailSynced` event with the feed it belongs to."""

    feed_id: UUID
    version: int
    tenant: str
    person: str
    message_id: str
    sealed: dict[str, str]
    received_at: datetime


def mail_memory_id(tenant: str, feed_id: UUID, message_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"cairn:mail-memory:{tenant}:{feed_id}:{message_id}")


def _opened(ports: ContextPorts, mail: SyncedMail, name: str) -> str | None:
    token = mail.sealed.get(name)
    if token is None:
        return ""
    value = ports.vault.open_personal(mail.tenant, token, f"mail.{name}")
    return None if isinstance(value, Erased) else str(value)


def learn_from_mail(ports: ContextPorts, mail: SyncedMail) -> int | None:
    """The memory and the sender it teaches, saved; None when nothing was learnt."""
    tenant_id = UUID(mail.tenant)
    memory_id = mail_memory_id(mail.tenant, mail.feed_id, mail.message_id)
    if find(ports.app, memory_id) is not None:
        return None  # learnt already (or learnt and forgotten)
    sender, subject = _opened(ports, mail, "sender"), _opened(ports, mail, "subject")
    if not sender or subject is None:
        return None  # no sender, or the person was erased
    _name, address = sender_of(sender)
    known = ports.directory.names_by_email(tenant_id, mail.person, [address] if address else [])
    source = f"MailFeed:{mail.feed_id}:{mail.version}"
    received = ReceivedMail(sender, subject, mail.received_at)
    extraction = facts_from_mail(received, source, known)
    if not extraction.entities:
        return None
    text = f"E-mail from {sender} on {mail.received_at.isoformat()}: {subject or '(no subject)'}"
    aggregates = note(
        ports,
        tenant_id,
        mail.person,
        memory_id,
        text[:4000],
        kind="mail",
        extraction=extraction,
        valid_from=mail.received_at,
        source_event=source,
        # Off the sync's path: the re-embedding job gives it a vector in a batch.
        embed=False,
    )
    context = EventContext(
        tenant=mail.tenant, actor=ACTOR, correlation_id=str(memory_id), causation_id=source
    )
    return ports.app.save_atomically(*aggregates, context=context)


def mail_loader(app: Any) -> Callable[[UUID, int], SyncedMail | None]:
    """Reads one `MailSynced` of a mail feed from the integrations' event store."""

    def load(feed_id: UUID, version: int) -> SyncedMail | None:
        events = list(app.repository.event_store.get(feed_id, gt=version - 1, lte=version))
        if not events or type(events[0]).__name__ != "MailSynced":
            return None
        feed = app.repository.get(feed_id)
        synced = events[0]
        received = synced.fields["received_at"]
        if isinstance(received, str):
            received = datetime.fromisoformat(received)
        return SyncedMail(
            feed_id,
            version,
            feed.tenant,
            feed.person,
            synced.message_id,
            dict(synced.sealed),
            received,
        )

    return load
