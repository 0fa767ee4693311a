"""The calendar view and the planner's upcoming events: what the synced feeds hold now, per
person, soonest first, within the horizon, titles opened from their sealed tokens (and gone
once the person is erased), moved and removed events as they are now."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from adapters.context.calendar import TITLE_FIELD, SyncedCalendar
from adapters.llm.context import FixedContextProvider, GraphContextProvider
from adapters.vault import PostgresVault
from commands.ports.planner import PlanningContext
from domain.event_context import EventContext
from domain.integrations.sync import CalendarFeed
from projections.engine.projector_host import ProjectorHost
from projections.engine.view_reads import wait_for
from projections.settings import ProjectionSettings
from projections.views.calendar.projector import Calendar

pytestmark = pytest.mark.integration

TENANT = uuid.uuid4()
ADA, BOB = "ada", "bob"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def synced(
    feed: CalendarFeed, vault: PostgresVault, item: str, title: str, start: str, end: str
) -> None:
    sealed = {"title": vault.seal_personal(feed.tenant, feed.person, TITLE_FIELD, title)}
    fields = {"start": start, "end": end, "status": "confirmed"}
    feed.sync_item(item, f"v-{item}-{start}", sealed, fields)


class NoSearch:
    """A context graph that knows nothing: only the calendar speaks."""

    def search(self, *_: Any, **__: Any) -> list[Any]:
        return []

    def current_facts(self, *_: Any, **__: Any) -> list[Any]:
        return []


def test_upcoming_events_are_the_feeds_as_they_are_now(
    store: Application[uuid.UUID],
    settings: ProjectionSettings,
    pool: ConnectionPool[Any],
    vault: PostgresVault,
) -> None:
    google = CalendarFeed(tenant=str(TENANT), person=ADA, provider="google")
    synced(google, vault, "past", "Yesterday", "2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z")
    synced(
        google, vault, "later", "Dentist", "2026-12-03T08:00:00+01:00", "2026-12-03T09:00:00+01:00"
    )
    synced(google, vault, "moved", "Sarah", "2026-12-01T14:00:00Z", "2026-12-01T15:00:00Z")
    synced(google, vault, "gone", "Cancelled", "2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z")
    synced(google, vault, "far", "Next year", "2027-01-20T09:00:00Z", "2027-01-20T10:00:00Z")
    synced(google, vault, "now", "Standup", "2026-12-01T08:45:00Z", "2026-12-01T09:15:00Z")
    google.remove_item("gone")
    synced(google, vault, "moved", "Sarah", "2026-12-02T16:00:00Z", "2026-12-02T17:00:00Z")
    # Graph writes UTC without an offset and with seven fractional digits.
    graph = CalendarFeed(tenant=str(TENANT), person=ADA, provider="microsoft")
    synced(
        graph,
        vault,
        "AAMk1",
        "Review",
        "2026-12-01T13:00:00.0000000",
        "2026-12-01T13:30:00.0000000",
    )
    other = CalendarFeed(tenant=str(TENANT), person=BOB, provider="google")
    synced(other, vault, "bobs", "Bob's", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z")
    recorded = store.save(google, graph, other, context=EventContext(tenant=str(TENANT)))
    position = max(r.notification.id for r in recorded)
    calendar = SyncedCalendar(pool, vault)
    with ProjectorHost(settings, [Calendar]):
        wait_for(pool, "calendar", position, timeout=30)
        upcoming = calendar.upcoming(TENANT, ADA, NOW, limit=10)
        assert [(e.provider, e.event_id, e.title) for e in upcoming] == [
            ("google", "now", "Standup"),  # still on
            ("microsoft", "AAMk1", "Review"),
            ("google", "moved", "Sarah"),  # where it is now
            ("google", "later", "Dentist"),
        ]
        assert upcoming[1].start == datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
        assert [e.event_id for e in calendar.upcoming(TENANT, ADA, NOW, limit=2)] == [
            "now",
            "AAMk1",
        ]
        assert [e.event_id for e in calendar.upcoming(uuid.uuid4(), ADA, NOW, limit=10)] == []

        # The planner's context carries them as data, each named in `given`.
        base = PlanningContext(local_time=NOW, timezone="Europe/Zurich")
        provider = GraphContextProvider(
            NoSearch(), FixedContextProvider(base), calendar=calendar, calendar_tokens=60
        )
        planning = provider.planning_context(tenant_id=TENANT, user_id=ADA, intent_text="move")
        assert 1 <= len(planning.calendar) < 4  # the budget cut the rest
        assert planning.given == tuple(
            f"calendar:{e.provider}:{e.event_id}" for e in planning.calendar
        )

        # Erased, the person's titles cannot be opened any more; the times stay.
        vault.erase_subject(str(TENANT), ADA)
        erased = calendar.upcoming(TENANT, ADA, NOW, limit=10)
        assert [e.event_id for e in erased] == [e.event_id for e in upcoming]
        assert all(e.title is None for e in erased)
