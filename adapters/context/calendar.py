"""The person's upcoming events from the calendar view, titles opened for the planner.

One indexed read of the person's rows (as `cairn_app`, the tenant set for the transaction)
within a horizon, and one `open_personal` per title shown: the view holds titles sealed, so an
erased person's events come back without them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from adapters.context.search import person_reader
from commands.ports.planner import CalendarEntry
from commands.ports.vault import Erased, Vault

# The field titles are sealed under by the calendar sync (commands/integrations/sync.py).
TITLE_FIELD = "calendar.title"
HORIZON = timedelta(days=14)
UPCOMING = (
    "SELECT provider, item_id, starts_at, ends_at, sealed_title FROM calendar_events"
    " WHERE tenant_id = %(tenant)s AND user_id = %(user)s AND status <> 'cancelled'"
    " AND starts_at >= %(earliest)s AND starts_at < %(until)s"
    " AND coalesce(ends_at, starts_at) > %(now)s"
    " ORDER BY starts_at, item_id LIMIT %(n)s"
)
# An event that began up to a day ago may still be on (and may be the one to move).
_ONGOING = timedelta(days=1)


class SyncedCalendar:
    """Implements `commands.ports.upcoming.UpcomingEvents`."""

    def __init__(self, pool: ConnectionPool[Any], vault: Vault) -> None:
        self.pool = pool
        self.vault = vault

    def upcoming(
        self, tenant_id: UUID, user_id: str, now: datetime, *, limit: int
    ) -> list[CalendarEntry]:
        with person_reader(self.pool, tenant_id) as cur:
            rows = cur.execute(UPCOMING, upcoming_params(tenant_id, user_id, now, limit)).fetchall()
        return [
            opened_entry(
                self.vault,
                tenant_id,
                row["provider"],
                row["item_id"],
                row["starts_at"],
                row["ends_at"],
                row["sealed_title"],
            )
            for row in rows
        ]


def upcoming_params(tenant_id: UUID, user_id: str, now: datetime, limit: int) -> dict[str, Any]:
    return {
        "tenant": tenant_id,
        "user": user_id,
        "now": now,
        "earliest": now - _ONGOING,
        "until": now + HORIZON,
        "n": limit,
    }


def opened_entry(
    vault: Vault,
    tenant_id: UUID,
    provider: str,
    item_id: str,
    starts_at: datetime,
    ends_at: datetime | None,
    sealed_title: str | None,
) -> CalendarEntry:
    """One row of `UPCOMING` as the planner sees it: its title opened (None once erased)."""
    title = None
    if sealed_title:
        opened = vault.open_personal(str(tenant_id), sealed_title, TITLE_FIELD)
        title = None if isinstance(opened, Erased) else opened[:200]
    return CalendarEntry(
        provider=provider, event_id=item_id, title=title, start=starts_at, end=ends_at
    )
