"""Audit replay: one tenant's events straight from the store, filtered, paged by position.

The subject narrows the read on the server (tenant, and aggregate type or id when given);
actor, correlation id and event type are matched on the headers here. A page examines at most
``max_scan`` messages, so a filter that matches rarely still answers quickly: the cursor then
points past what was examined and the next page goes on from there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import asdict, dataclass
from datetime import datetime
from uuid import UUID

from adapters.jetstream import headers as h
from adapters.push.events import PushEvent
from adapters.push.store import StoreReader
from commands.ports.push import AuditQuery
from domain.errors import InvalidInput, NotFound
from domain.identity.capabilities import check_may_read_audit

_TYPE = re.compile(r"[A-Za-z0-9_]{1,100}")
_NANOS = 1_000_000_000


class AuditFilter(AuditQuery):
    """The port's query, with the part of it matched on each message (the rest narrows the
    subject the store reads)."""

    @classmethod
    def of(cls, query: AuditQuery) -> AuditFilter:
        return query if isinstance(query, AuditFilter) else cls(**asdict(query))

    def matches(self, event: PushEvent) -> bool:
        if self.correlation_id is not None and (
            event.header(h.CORRELATION_ID) != self.correlation_id
        ):
            return False
        if self.actor is not None and event.header(h.ACTOR) != self.actor:
            return False
        if self.event_type is not None:
            wanted = self.event_type
            name = event.event_type
            if wanted not in (name, event.topic, name.rpartition(".")[2]):
                return False
        return not (self.since is not None and event.message.time_ns < _ns(self.since))


@dataclass(frozen=True)
class AuditPage:
    events: list[PushEvent]
    next_after: int | None  # pass as `after` for the next page; None: nothing more for now
    examined_to: int  # the last sequence this page looked at (0 if none)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def subject_filter(reader: StoreReader, tenant: str, flt: AuditFilter) -> str:
    aggregate_type = "*"
    if flt.aggregate_type is not None:
        if not _TYPE.fullmatch(flt.aggregate_type):
            raise InvalidInput("aggregate_type is a name like 'User'", {"field": "aggregate_type"})
        aggregate_type = flt.aggregate_type
    key = "*"
    if flt.aggregate_id is not None:
        try:
            key = h.id_token(UUID(flt.aggregate_id))
        except ValueError:
            key = h.encode_token(flt.aggregate_id)
    return f"{reader.prefix}.{h.tenant_token(tenant)}.{aggregate_type}.{key}"


async def audit_page(
    reader: StoreReader,
    tenant: str,
    flt: AuditFilter,
    *,
    capabilities: Iterable[str],
    asked_tenant: str | None = None,
    after: int = 0,
    limit: int = 100,
    max_scan: int = 10_000,
) -> AuditPage:
    """The tenant's events matching the filter, in stream order, for a reader holding
    `audit.read` or `tenant.admin` (AuditForbidden otherwise, and for another tenant)."""
    check_may_read_audit(capabilities, tenant, asked_tenant)
    if flt.since and flt.until and flt.until <= flt.since:
        raise InvalidInput("`until` must be later than `since`", {"field": "until"})
    subjects = subject_filter(reader, tenant, flt)
    if flt.aggregate_id is not None and await reader.last_of(subjects) is None:
        # Also what another tenant's aggregate gets: its existence is never revealed.
        raise NotFound("no events of this aggregate in your tenant", {"field": "aggregate_id"})
    start = after + 1
    if flt.since is not None:
        first = await reader.first_at(subjects, flt.since)
        if first is None:
            return AuditPage([], None, after)
        start = max(start, first)
    until_ns = _ns(flt.until) if flt.until is not None else None
    found: list[PushEvent] = []
    examined = 0
    last_seq = after
    async with aclosing(reader.scan(subjects, start, batch=min(256, max_scan))) as pages:
        async for page in pages:
            for message in page:
                if until_ns is not None and message.time_ns >= until_ns:
                    # The stream's timestamps grow with the sequence: nothing later matches.
                    return AuditPage(found, None, last_seq)
                examined += 1
                last_seq = message.seq
                event = PushEvent(message, reader.prefix)
                if flt.matches(event):
                    found.append(event)
                    if len(found) >= limit:
                        return AuditPage(found, message.seq, last_seq)
                if examined >= max_scan:
                    return AuditPage(found, message.seq, last_seq)
    return AuditPage(found, None, last_seq)
