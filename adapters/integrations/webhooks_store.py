"""Channels, sync cursors and seen notifications in PostgreSQL (migration 0066).

Bookkeeping, not facts: a channel's secret is kept only as its SHA-256 (a notification's token
is hashed and compared in constant time), a cursor is the provider's sync token or delta link.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from commands.ports.calendar_sync import ChannelRecord

_SAVE = (
    "INSERT INTO provider_channels (channel_id, feed_id, tenant_id, person, provider,"
    " resource_id, secret_hash, expires_at, renewal_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (channel_id) DO UPDATE SET expires_at = EXCLUDED.expires_at,"
    " secret_hash = EXCLUDED.secret_hash, renewal_id = EXCLUDED.renewal_id, retired_at = NULL"
)
_COLUMNS = (
    "SELECT channel_id, feed_id, tenant_id, person, provider, resource_id, secret_hash,"
    " expires_at, renewal_id FROM provider_channels WHERE retired_at IS NULL"
)
_GET = _COLUMNS + " AND channel_id = %s"
_BY_RENEWAL = _COLUMNS + " AND renewal_id = %s"
_OF_FEED = _COLUMNS + " AND feed_id = %s ORDER BY created_at"
_RETIRE = "UPDATE provider_channels SET retired_at = now() WHERE channel_id = %s"
_CURSOR = "SELECT cursor FROM provider_feed_cursors WHERE feed_id = %s"
_SET_CURSOR = (
    "INSERT INTO provider_feed_cursors (feed_id, cursor) VALUES (%s, %s)"
    " ON CONFLICT (feed_id) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()"
)
_FORGET_CURSOR = "DELETE FROM provider_feed_cursors WHERE feed_id = %s"
# Oldest first and a bounded batch per statement: a long backlog (a worker down for weeks)
# does not hold one huge delete; the timer comes again until nothing is left.
_FORGET_SEEN = (
    "DELETE FROM provider_notifications_seen WHERE ctid = ANY(ARRAY("
    "SELECT ctid FROM provider_notifications_seen WHERE seen_at < %s LIMIT %s))"
)
_SEEN = (
    "INSERT INTO provider_notifications_seen (channel_id, notification) VALUES (%s, %s)"
    " ON CONFLICT DO NOTHING"
)


class PostgresFeedStore:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def save_channel(self, record: ChannelRecord) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                _SAVE,
                (
                    record.channel_id,
                    record.feed_id,
                    record.tenant,
                    record.person,
                    record.provider,
                    record.resource_id,
                    record.secret_hash,
                    record.expires_at,
                    record.renewal_id,
                ),
            )

    def channel(self, channel_id: str) -> ChannelRecord | None:
        return self._one(_GET, channel_id)

    def channel_to_renew(self, renewal_id: UUID) -> ChannelRecord | None:
        return self._one(_BY_RENEWAL, renewal_id)

    def live_channels(self, feed_id: UUID) -> list[ChannelRecord]:
        with self.pool.connection() as conn:
            rows = conn.execute(_OF_FEED, (feed_id,)).fetchall()
        return [_record(row) for row in rows]

    def _one(self, query: str, key: object) -> ChannelRecord | None:
        with self.pool.connection() as conn:
            row = conn.execute(query, (key,)).fetchone()
        return None if row is None else _record(row)

    def retire_channel(self, channel_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_RETIRE, (channel_id,))

    def cursor(self, feed_id: UUID) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute(_CURSOR, (feed_id,)).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, feed_id: UUID, cursor: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_SET_CURSOR, (feed_id, cursor))

    def forget_cursor(self, feed_id: UUID) -> None:
        with self.pool.connection() as conn:
            conn.execute(_FORGET_CURSOR, (feed_id,))

    def first_seen(self, channel_id: str, notification: str) -> bool:
        with self.pool.connection() as conn:
            return bool(conn.execute(_SEEN, (channel_id, notification)).rowcount == 1)

    def forget_seen(self, before: datetime, batch: int = 10_000) -> int:
        forgotten = 0
        while True:
            with self.pool.connection() as conn:
                done = int(conn.execute(_FORGET_SEEN, (before, batch)).rowcount)
            forgotten += done
            if done < batch:
                return forgotten


def _record(row: Any) -> ChannelRecord:
    return ChannelRecord(
        row[0], row[1], row[2], row[3], row[4], row[5], bytes(row[6]), row[7], row[8]
    )
