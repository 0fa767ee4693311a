"""A poison event (the handler raises, or the database refuses its rows) is parked with its
error and position; the projector skips it or stops at it as set; status shows it; retry
applies it once the cause is fixed, and a stopped projector goes on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
import pytest
from eventsourcing.application import Application

from domain.event_context import EventContext
from domain.identity.credential import SecurityEvent
from projections import operations
from projections.host import ProjectorHost
from projections.projector import Projector, Writes, handles
from projections.settings import ProjectionSettings
from projections.source import EventSource
from tests.integration.projections.support import admin

pytestmark = pytest.mark.integration

TENANT = uuid.uuid4()


class Ledger(Projector):
    name = "test_ledger"
    tables = ("test_ledger",)
    schema_sql = (
        "CREATE TABLE {test_ledger} (tenant_id uuid NOT NULL, position bigint PRIMARY KEY,"
        " kind text NOT NULL CHECK (kind <> 'refused'))"
    )
    # What the handler cannot project yet; a test "fixes the cause" by emptying it.
    broken: ClassVar[set[str]] = set()

    @handles("domain.identity.credential:SecurityEvent.SecurityEventRecorded")
    def recorded(self, event: Any, position: int, writes: Writes) -> None:
        if event.kind in self.broken:
            raise ValueError(f"cannot project a {event.kind!r} event")
        kind = "accepted-later" if event.kind == "refused" and not self.broken else event.kind
        writes.execute(
            self.sql("INSERT INTO {test_ledger} VALUES (%s, %s, %s)"),
            (event.tenant_id, position, kind),
        )


def _save(store: Application[uuid.UUID], *kinds: str) -> list[int]:
    facts = [SecurityEvent(kind, TENANT, None, None, "succeeded", {}) for kind in kinds]
    context = EventContext(tenant=str(TENANT))
    return [r.notification.id for r in store.save(*facts, context=context)]


def _until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _kinds(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute("SELECT kind FROM test_ledger ORDER BY position").fetchall()
    return [str(r[0]) for r in rows]


def _letters(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return list(
        conn.execute(
            "SELECT position, status, error FROM projection_dead_letters ORDER BY position"
        ).fetchall()
    )


def test_skip_parks_and_goes_on_then_retry_applies_them(
    store: Application[uuid.UUID], settings: ProjectionSettings, source: EventSource
) -> None:
    Ledger.broken = {"poison"}
    skip = ProjectionSettings(
        settings.database_url, settings.event_store_env, on_error={Ledger.name: "skip"}
    )
    positions = _save(store, "a", "poison", "b", "refused", "c")
    with ProjectorHost(skip, [Ledger]) as host, admin(settings.database_url) as conn:
        worker = host.workers[Ledger.name]
        _until(lambda: worker.position == positions[-1], "the end")
        assert _kinds(conn) == ["a", "b", "c"]
        letters = _letters(conn)
        assert [(p, s) for p, s, _ in letters] == [
            (positions[1], "parked"),
            (positions[3], "parked"),
        ]
        assert "ValueError: cannot project a 'poison' event" in letters[0][2]
        assert "check constraint" in letters[1][2]  # refused by PostgreSQL, found one by one
        (status,) = operations.status(skip, source, [Ledger])
        assert [d.position for d in status.parked] == [positions[1], positions[3]]
        assert status.stopped_at is None and status.running and status.lag_events == 0

        Ledger.broken = set()  # the fix is deployed
        report = operations.retry(skip, source, Ledger)
        assert report.resolved == [positions[1], positions[3]] and not report.failed
        assert sorted(_kinds(conn)) == ["a", "accepted-later", "b", "c", "poison"]
        assert [s for _, s, _ in _letters(conn)] == ["resolved", "resolved"]
        # Retrying again changes nothing: each parked event is applied once.
        assert operations.retry(skip, source, Ledger).resolved == []
        assert len(_kinds(conn)) == 5


def test_stop_waits_at_the_poison_event_until_retry(
    store: Application[uuid.UUID], settings: ProjectionSettings, source: EventSource
) -> None:
    Ledger.broken = {"poison"}
    first = _save(store, "a", "poison", "b")
    with ProjectorHost(settings, [Ledger]) as host, admin(settings.database_url) as conn:
        worker = host.workers[Ledger.name]
        _until(lambda: worker.state.startswith("stopped"), "the stop")
        later = _save(store, "c")
        time.sleep(0.5)
        assert _kinds(conn) == ["a"]  # nothing after the poison event, not even new events
        assert worker.position == first[0]
        (status,) = operations.status(settings, source, [Ledger])
        assert status.stopped_at == first[1] and status.on_error == "stop"
        assert status.lag_events == later[0] - first[0]

        # Still broken: retry fails again, the worker stays stopped.
        again = operations.retry(settings, source, Ledger)
        assert list(again.failed) == [first[1]] and not again.resolved
        assert conn.execute("SELECT attempts FROM projection_dead_letters").fetchone() == (2,)

        Ledger.broken = set()
        assert operations.retry(settings, source, Ledger).resolved == [first[1]]
        _until(lambda: worker.position == later[0], "the worker to go on")
        assert _kinds(conn) == ["a", "poison", "b", "c"]
        assert operations.status(settings, source, [Ledger])[0].stopped_at is None
