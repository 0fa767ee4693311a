"""The person's upcoming events, as the synced calendars hold them (the calendar view of
`CalendarFeed` events): what the planner's context shows so that "move my meeting with Sarah"
can name the event. Read from Cairn's own view, never from the provider at plan time
(decision 0033)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from commands.ports.planner import CalendarEntry


class UpcomingEvents(Protocol):
    def upcoming(
        self, tenant_id: UUID, user_id: str, now: datetime, *, limit: int
    ) -> list[CalendarEntry]:
        """The person's events that have not ended by `now`, soonest first, at most `limit`,
        titles opened (None once the person was erased); raises a `DomainError` (503 family)
        when the view cannot be read."""
        ...
