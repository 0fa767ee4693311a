"""The calendar projector: the events each followed calendar holds now (domain/integrations/
sync.py), per person, for the planner's upcoming-events context.

A feed's first event names its tenant, person and provider; the synced and removed items of
the feed find them by feed id in the same statement. Titles arrive sealed for the person and
stay sealed here. A time the provider wrote in a shape this view cannot read (or an all-day
date) is kept as its day at midnight UTC, or the item left out: a stopped projector would
cost every person their context.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.integrations.sync import CalendarFeed
from projections.engine.projector_base import Projector, Writes, handles

_FEED = (
    "INSERT INTO {calendar_feeds} (tenant_id, feed_id, user_id, provider, position)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (feed_id) DO NOTHING"
)
_SYNCED = (
    "INSERT INTO {calendar_events} (tenant_id, feed_id, item_id, user_id, provider, starts_at,"
    " ends_at, status, sealed_title, version, position)"
    " SELECT f.tenant_id, f.feed_id, %(item)s, f.user_id, f.provider, %(starts)s, %(ends)s,"
    " %(status)s, %(title)s, %(version)s, %(position)s"
    " FROM {calendar_feeds} f WHERE f.feed_id = %(feed)s"
    " ON CONFLICT (feed_id, item_id) DO UPDATE SET starts_at = excluded.starts_at,"
    " ends_at = excluded.ends_at, status = excluded.status,"
    " sealed_title = excluded.sealed_title, version = excluded.version,"
    " position = excluded.position"
)
_REMOVED = "DELETE FROM {calendar_events} WHERE feed_id = %s AND item_id = %s"
# Graph writes seven fractional digits; Python reads at most six.
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def moment(value: Any) -> datetime | None:
    """An instant from the provider's text: with its offset, else UTC (Graph's `dateTime` of
    a `timeZone: UTC`); None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class Calendar(Projector):
    name = "calendar"
    version = 1
    tables = ("calendar_feeds", "calendar_events")
    on_error = "stop"

    @handles(CalendarFeed.FeedStarted)
    def started(self, event: Any, position: int, writes: Writes) -> None:
        try:
            tenant = UUID(str(event.tenant))
        except ValueError:
            return  # not a tenant id any reader could name: nobody may see it
        row = (tenant, event.originator_id, event.person, event.provider, position)
        writes.execute(self.sql(_FEED), row)

    @handles(CalendarFeed.CalendarEventSynced)
    def synced(self, event: Any, position: int, writes: Writes) -> None:
        fields = event.fields if isinstance(event.fields, dict) else {}
        starts = moment(fields.get("start"))
        if starts is None:
            # No time to order it by: what it held before is gone too.
            self.removed(event, position, writes)
            return
        writes.execute(
            self.sql(_SYNCED),
            {
                "feed": event.originator_id,
                "item": event.item_id,
                "starts": starts,
                "ends": moment(fields.get("end")),
                "status": str(fields.get("status") or "confirmed")[:40],
                "title": (event.sealed or {}).get("title"),
                "version": event.version,
                "position": position,
            },
        )

    @handles(CalendarFeed.CalendarEventRemoved)
    def removed(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(self.sql(_REMOVED), (event.originator_id, event.item_id))
