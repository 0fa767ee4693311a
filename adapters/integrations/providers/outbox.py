"""The local outbox: which provider-side id each step's create was sent under, and its receipt.

Recorded before the provider is called (`begin`) and completed after (`done`). A later attempt
for the same step finds the receipt and calls nobody, or finds that an earlier attempt may have
reached the provider (`attempts > 1`) and looks there first: the provider-side id (Google's
event `id`, Graph's `transactionId`, a derived `Message-ID`) is what it looks for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg_pool import ConnectionPool


@dataclass(frozen=True)
class OutboxEntry:
    reference: str  # the provider-side id the create is sent under
    attempts: int  # attempts begun for this step, this one included
    receipt: dict[str, Any] | None = None  # set once an attempt got the provider's answer


class Outbox(Protocol):
    def begin(
        self, tenant: str, key: str, provider: str, action: str, reference: str
    ) -> OutboxEntry: ...

    def done(self, tenant: str, key: str, receipt: dict[str, Any]) -> None: ...


_BEGIN = (
    "INSERT INTO provider_outbox (tenant_id, idempotency_key, provider, action, reference)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant_id, idempotency_key) DO UPDATE"
    " SET attempts = provider_outbox.attempts + 1, updated_at = now()"
    " RETURNING reference, attempts, receipt"
)
_DONE = (
    "UPDATE provider_outbox SET receipt = %s, updated_at = now()"
    " WHERE tenant_id = %s AND idempotency_key = %s AND receipt IS NULL"
)


class PostgresOutbox:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def begin(
        self, tenant: str, key: str, provider: str, action: str, reference: str
    ) -> OutboxEntry:
        with self.pool.connection() as conn:
            row = conn.execute(_BEGIN, (tenant, key, provider, action, reference)).fetchone()
        assert row is not None
        return OutboxEntry(row[0], row[1], row[2])

    def done(self, tenant: str, key: str, receipt: dict[str, Any]) -> None:
        with self.pool.connection() as conn:
            conn.execute(_DONE, (json.dumps(receipt), tenant, key))


class MemoryOutbox:
    """The same outbox in memory, for unit tests."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], OutboxEntry] = {}
        self._lock = threading.Lock()

    def begin(
        self, tenant: str, key: str, provider: str, action: str, reference: str
    ) -> OutboxEntry:
        with self._lock:
            known = self.entries.get((tenant, key))
            entry = (
                OutboxEntry(reference, 1)
                if known is None
                else OutboxEntry(known.reference, known.attempts + 1, known.receipt)
            )
            self.entries[(tenant, key)] = entry
            return entry

    def done(self, tenant: str, key: str, receipt: dict[str, Any]) -> None:
        with self._lock:
            known = self.entries[(tenant, key)]
            if known.receipt is None:
                self.entries[(tenant, key)] = OutboxEntry(known.reference, known.attempts, receipt)


class ReachingOutbox:
    """An outbox that reaches `before-outbox-receipt` (adapters/failpoints.py) before storing
    a receipt: the crash tests' kill point between the provider's answer and the outbox, where
    only the provider-side id keeps the retry from creating twice."""

    def __init__(self, inner: Outbox, reach: Callable[[str], None]) -> None:
        self.inner = inner
        self.reach = reach

    def begin(
        self, tenant: str, key: str, provider: str, action: str, reference: str
    ) -> OutboxEntry:
        return self.inner.begin(tenant, key, provider, action, reference)

    def done(self, tenant: str, key: str, receipt: dict[str, Any]) -> None:
        self.reach("before-outbox-receipt")
        self.inner.done(tenant, key, receipt)
