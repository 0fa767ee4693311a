"""Graph subscriptions and delta sync (`/subscriptions`, `calendarView/delta`).

The subscription is subscriptions.py's. A delta link Graph no longer knows answers 410: the
caller starts over with a full sync.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.integrations.providers.client import ProviderClient
from adapters.integrations.providers.microsoft.subscriptions import GraphSubscriptions, graph_time
from commands.ports.calendar_sync import CalendarItem, Changes

DELTA = "/v1.0/me/calendarView/delta"
EXPIRED = "microsoft: delta link expired"
# The window a calendar view covers: what the planner may ask about.
WINDOW_PAST, WINDOW_AHEAD = timedelta(days=30), timedelta(days=365)


class GraphCalendarFeed(GraphSubscriptions):
    def __init__(self, client: ProviderClient) -> None:
        super().__init__(client, "/me/events")

    def changes(self, tenant: str, person: str, cursor: str | None) -> Changes:
        if cursor is None:
            now = datetime.now(UTC)
            path = DELTA
            params = {
                "startDateTime": graph_time(now - WINDOW_PAST),
                "endDateTime": graph_time(now + WINDOW_AHEAD),
            }
        else:
            path, params = self._own(cursor)
        items: list[CalendarItem] = []
        removed: list[str] = []
        body: dict[str, Any] = {}
        for body in self._delta(tenant, person, "calendar.sync", path, params, EXPIRED):
            for entry in body.get("value") or []:
                if not isinstance(entry, dict):
                    continue
                if "@removed" in entry:
                    removed.append(str(entry["id"]))
                else:
                    items.append(_item(entry))
        return Changes(items, removed, str(body["@odata.deltaLink"]), cursor is None)


def _item(entry: dict[str, Any]) -> CalendarItem:
    def when(side: str) -> str | None:
        value = entry.get(side)
        return value.get("dateTime") if isinstance(value, dict) else None

    return CalendarItem(
        item_id=str(entry["id"]),
        version=str(entry.get("@odata.etag") or entry.get("changeKey") or ""),
        title=entry.get("subject"),
        start=when("start"),
        end=when("end"),
        status="cancelled" if entry.get("isCancelled") else "confirmed",
        attendees=tuple(
            f"{a['emailAddress'].get('name') or ''} <{a['emailAddress']['address']}>".strip()
            for a in entry.get("attendees") or []
            if isinstance(a, dict) and (a.get("emailAddress") or {}).get("address")
        ),
    )
