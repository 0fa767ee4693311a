"""Timers as due rows in PostgreSQL, fired by whichever worker locks them first."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from commands.ports.timers import Timer

logger = logging.getLogger("cairn.timers")

_SCHEDULE = (
    "INSERT INTO timers (kind, subject_id, tenant_id, due_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (kind, subject_id) DO UPDATE SET due_at = EXCLUDED.due_at, attempts = 0,"
    " last_error = NULL"
)
# One at a time, each in its own transaction: a slow or failing timer holds only its own row.
_TAKE = (
    "SELECT kind, subject_id, tenant_id, due_at, attempts FROM timers WHERE due_at <= %s"
    " ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED"
)
_DONE = "DELETE FROM timers WHERE kind = %s AND subject_id = %s AND due_at = %s"
_PUT_OFF = (
    "UPDATE timers SET due_at = %s, attempts = attempts + 1, last_error = %s"
    " WHERE kind = %s AND subject_id = %s"
)
_NEXT = "SELECT min(due_at) FROM timers"
MAX_BACKOFF_S = 60.0
# The transaction of the timer this thread is firing (whichever PostgresTimers fires it).
_firing = threading.local()


class PostgresTimers:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def schedule(self, timer: Timer) -> None:
        firing = getattr(_firing, "conn", None)
        if firing is not None:
            # Set while a timer fires (a keep-alive sets its own next one): in the firing's
            # transaction, which holds that row locked; another connection would wait forever.
            firing.execute(_SCHEDULE, (timer.kind, timer.subject_id, timer.tenant_id, timer.due_at))
            return
        with self.pool.connection() as conn:
            conn.execute(_SCHEDULE, (timer.kind, timer.subject_id, timer.tenant_id, timer.due_at))

    def fire_due(self, now: datetime, fire: Callable[[Timer], None], limit: int = 50) -> int:
        fired = 0
        for _ in range(limit):
            with self.pool.connection() as conn, conn.transaction():
                row = conn.execute(_TAKE, (now,)).fetchone()
                if row is None:
                    break
                kind, subject_id, tenant_id, due_at, attempts = row
                timer = Timer(kind, subject_id, tenant_id, due_at)
                _firing.conn = conn
                try:
                    fire(timer)
                except Exception as exc:
                    delay = min(2.0**attempts, MAX_BACKOFF_S)
                    logger.warning(
                        "timer %s of %s failed (%r); again in %.0fs", kind, subject_id, exc, delay
                    )
                    conn.execute(
                        _PUT_OFF,
                        (now + timedelta(seconds=delay), repr(exc)[:500], kind, subject_id),
                    )
                    continue
                finally:
                    _firing.conn = None
                # Only this due time: a timer set again meanwhile (a later due time) stays.
                conn.execute(_DONE, (kind, subject_id, due_at))
                fired += 1
        return fired

    def next_due(self) -> datetime | None:
        with self.pool.connection() as conn:
            row = conn.execute(_NEXT).fetchone()
        return row[0] if row else None
