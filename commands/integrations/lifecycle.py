"""A connection's life beyond its tokens (decision 0032): the person's calendar and inbox
followed once an account connects, no longer followed once it is disconnected, and every
connection of a person disconnected when the person is erased.

The feeds are opened by a worker timer set when the account connects, not inside the connect:
the provider's watch call can fail or be slow, and that must neither fail the person's connect
nor be lost (a failing timer fires again with backoff). Opening is idempotent: a reconnect
finds the channels open and opens no second one. Closing happens inline, before the tokens are
shredded, because stopping a channel at the provider needs them.
"""

from __future__ import annotations

import logging
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from commands.integrations.mail_sync import MailSync
from commands.integrations.ports import ConnectionsPorts
from commands.integrations.sync import FeedSync
from commands.ports.integrations import IntegrationError
from commands.ports.timers import Timer
from domain.event_context import EventContext
from domain.integrations.connection import Connection, ConnectionStatus

logger = logging.getLogger("cairn.integrations")

FEED_OPEN = "connection.feed_open"


def find(cp: ConnectionsPorts, connection_id: UUID) -> Connection | None:
    try:
        found: object = cp.app.repository.get(connection_id)
    except AggregateNotFoundError:
        return None
    assert isinstance(found, Connection)
    return found


def open_feed_soon(cp: ConnectionsPorts, connection: Connection) -> None:
    cp.timers.schedule(Timer(FEED_OPEN, connection.id, connection.tenant_id, cp.clock()))


def open_feed(timer: Timer, cp: ConnectionsPorts) -> None:
    """The FEED_OPEN timer: follow the calendar and the inbox of the connection if it is still
    active and its provider has such feeds. Both are tried before a retryable failure of either
    is raised (the timer fires again): each watch is idempotent, so the one that opened keeps
    its channel on the next try, and a calendar that keeps failing does not hold the inbox back.
    """
    connection = find(cp, timer.subject_id)
    if connection is None or connection.status is not ConnectionStatus.ACTIVE:
        return
    tenant, person, provider = str(connection.tenant_id), connection.person_id, connection.provider
    retry: IntegrationError | None = None
    for name, sync in _feeds(cp):
        if provider not in sync.apis:
            continue  # a provider Cairn follows no such feed at
        try:
            sync.watch(tenant, person, provider)
        except IntegrationError as exc:
            if exc.retryable:
                retry = retry or exc
                continue
            # No calendar or mail scope granted, a dead grant, Gmail's push not configured:
            # only the person or the deployment can change that, and the next connect sets
            # this timer again.
            logger.warning("no %s %s feed opened: %s", provider, name, exc.kind)
    if retry is not None:
        raise retry


def close_feed(cp: ConnectionsPorts, connection: Connection, reason: str) -> None:
    """Best effort, the calendar and the inbox: a feed left open is refused and expires at the
    provider on its own; the disconnect it is part of must go through."""
    tenant, person, provider = str(connection.tenant_id), connection.person_id, connection.provider
    for name, sync in _feeds(cp):
        try:
            sync.close(tenant, person, provider, reason)
        except Exception:
            logger.exception("the %s %s feed was not closed", provider, name)


def _feeds(cp: ConnectionsPorts) -> list[tuple[str, FeedSync | MailSync]]:
    syncs = (("calendar", cp.feeds), ("inbox", cp.mail))
    return [(name, sync) for name, sync in syncs if sync is not None]


def disconnect(
    cp: ConnectionsPorts, connection: Connection, context: EventContext
) -> tuple[bool, int | None]:
    """Close the feed, revoke at the provider (RFC 7009), crypto-shred the tokens and record
    `AccountDisconnected`: whether the provider confirmed the revocation, and the position."""
    close_feed(cp, connection, "disconnected")
    revoked = cp.tokens.disconnect(str(connection.tenant_id), connection.id, connection.provider)
    connection.disconnect(revoked)
    return revoked, cp.app.save_atomically(connection, context=context)


def disconnect_person(cp: ConnectionsPorts, tenant: str, person: str, context: EventContext) -> int:
    """Every connection of the person, at every provider configured or with tokens stored (a
    provider configured no longer still has its tokens shredded); returns how many were
    disconnected. A provider that does not answer the revocation does not stop it."""
    providers = {*cp.oauth.names(), *cp.tokens.providers_of(tenant, person)}
    disconnected = 0
    for provider in sorted(providers):
        connection_id = Connection.create_id(tenant, person, provider)
        connection = find(cp, connection_id)
        if connection is None or connection.status is ConnectionStatus.PENDING:
            cp.tokens.disconnect(tenant, connection_id, provider)  # shreds whatever is there
            continue
        if connection.status is not ConnectionStatus.DISCONNECTED:
            disconnect(cp, connection, context)
            disconnected += 1
    return disconnected
