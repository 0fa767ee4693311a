"""Security events of a tenant: logins, refusals, step-ups, revocations, one row each."""

from __future__ import annotations

import json
from typing import Any

from psycopg.types.json import Jsonb

from domain.identity.credential import SecurityEvent
from projections.engine.projector_base import Projector, Writes, handles

# Binary parameters (%b): the arrays are dumped by psycopg's C code, not in Python.
_INSERT = (
    "INSERT INTO {security_events} (tenant_id, position, event_id, kind, outcome, user_id,"
    " device_id, occurred_at, details) SELECT * FROM unnest(%b::uuid[], %b::bigint[],"
    " %b::uuid[], %b::text[], %b::text[], %b::uuid[], %b::text[], %b::timestamptz[], %b::jsonb[])"
)
# One encoder for every row: json.dumps() with options builds a new one per call.
_dumps = json.JSONEncoder(default=str, sort_keys=True).encode


class SecurityEvents(Projector):
    name = "security_events"
    version = 1
    tables = ("security_events",)
    # Rows are independent: one bad fact is parked (and shown by status), the log goes on.
    on_error = "skip"

    @handles(SecurityEvent.SecurityEventRecorded)
    def recorded(self, event: Any, position: int, writes: Writes) -> None:
        if event.tenant_id is None:
            return  # e.g. a login with an unknown passkey: no tenant can see it (audit can)
        writes.bulk(
            self.sql(_INSERT),
            (
                event.tenant_id,
                position,
                event.originator_id,
                event.kind,
                event.outcome,
                event.user_id,
                event.device_id,
                event.timestamp,
                Jsonb(event.details, dumps=_dumps),
            ),
        )
