"""Catching up with worker processes (projections.engine.catch_up): the views equal an in-process
build row for row, and poison events met on the way are dealt with exactly as in process
(parked and skipped, or parked with their aggregate held), including rows the database
refuses."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

import psutil
import pytest
from eventsourcing.application import Application
from psycopg.types.json import Jsonb

from domain.event_context import EventContext
from domain.identity.credential import SecurityEvent
from projections.engine import catch_up, generations, operations, projector_registry
from projections.engine.errors import ProjectorStopped
from projections.engine.event_source import EventSource
from projections.engine.projector_base import (
    Projector,
    Writes,
    handles,
    physical_table,
    tracking_name,
)
from projections.engine.view_reads import current_position
from projections.settings import ProjectionSettings
from tests.integration.projections.support import Generator, admin, differences

pytestmark = pytest.mark.integration

TENANT = uuid.uuid4()
SECURITY_EVENT = "domain.identity.credential:SecurityEvent.SecurityEventRecorded"
_INSERT = (
    "INSERT INTO {test_facts} (tenant_id, position, event_id, kind, occurred_at, details)"
    " SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::uuid[], %b::text[],"
    " %b::timestamptz[], %b::jsonb[])"
)


class Facts(Projector):
    """Bulk rows (dumped by the worker processes); a 'poison' event makes the handler raise
    and a 'refused' one breaks a check constraint (only PostgreSQL finds out)."""

    name = "test_facts"
    tables = ("test_facts",)
    on_error = "skip"
    schema_sql = (
        "CREATE TABLE {test_facts} (tenant_id uuid NOT NULL, position bigint PRIMARY KEY,"
        " event_id uuid NOT NULL, kind text NOT NULL CHECK (kind <> 'refused'),"
        " occurred_at timestamptz NOT NULL, details jsonb NOT NULL)"
    )

    @handles(SECURITY_EVENT)
    def recorded(self, event: Any, position: int, writes: Writes) -> None:
        if event.kind == "poison":
            raise ValueError("cannot project a poison event")
        row = (event.tenant_id, position, event.originator_id, event.kind, event.timestamp)
        writes.bulk(self.sql(_INSERT), (*row, Jsonb(event.details)))


class SlowFacts(Facts):
    """The same rows, a millisecond per event: a catch-up long enough to be interrupted."""

    name = "test_slow_facts"

    @handles(SECURITY_EVENT)
    def recorded(self, event: Any, position: int, writes: Writes) -> None:
        time.sleep(0.001)
        super().recorded(event, position, writes)


@pytest.fixture
def parallel(settings: ProjectionSettings, monkeypatch: pytest.MonkeyPatch) -> ProjectionSettings:
    """Worker processes for any lag; small chunks, reads and batches: many of each."""
    monkeypatch.setattr(catch_up, "MIN_CHUNK", 1200)
    monkeypatch.setattr(catch_up, "READ", 500)
    return replace(settings, catch_up_processes=2, catch_up_after=1, batch_size=250)


def _catch_up_processes() -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process().children()
        if "multiprocessing.spawn" in " ".join(child.cmdline())
    ]


def _save(store: Application[uuid.UUID], kinds: list[str]) -> list[int]:
    positions: list[int] = []
    context = EventContext(tenant=str(TENANT))
    for start in range(0, len(kinds), 400):
        facts = [
            SecurityEvent(kind, TENANT, None, "phone", "succeeded", {"n": start + n, "k": kind})
            for n, kind in enumerate(kinds[start : start + 400])
        ]
        positions += [r.notification.id for r in store.save(*facts, context=context)]
    return positions


@pytest.mark.long(15)
def test_a_catch_up_with_processes_equals_one_in_process_row_for_row(
    store: Application[uuid.UUID],
    settings: ProjectionSettings,
    parallel: ProjectionSettings,
    source: EventSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Registrations, updates, erasures, security facts, runs, memories and facts.
    Generator(store, database_url=settings.database_url).write(5000)
    in_process = replace(settings, catch_up_processes=0)
    with admin(settings.database_url) as conn:
        for cls in projector_registry.PROJECTORS.values():
            alone = operations.rebuild(in_process, source, cls, threading.Event())
            with caplog.at_level(logging.INFO, logger="cairn.projections"):
                helped = operations.rebuild(parallel, source, cls, threading.Event())
            assert f"{cls.name}: " in caplog.text and "catching up with 2 processes" in caplog.text
            caplog.clear()
            assert alone is not None and helped is not None
            for table, (ours, theirs, differ) in differences(conn, cls, alone, helped).items():
                assert ours > 0 and ours == theirs and differ == 0, (table, ours, theirs, differ)
            # The tracking ends where the store ends, internal records included.
            assert current_position(conn, cls.name) == source.max_position()


def test_poison_and_refused_rows_are_parked_and_skipped_as_in_process(
    store: Application[uuid.UUID], parallel: ProjectionSettings, source: EventSource
) -> None:
    kinds = ["ok"] * 3000
    kinds[1234], kinds[2345] = "poison", "refused"
    positions = _save(store, kinds)
    assert operations.rebuild(parallel, source, Facts, threading.Event()) is not None
    with admin(parallel.database_url) as conn:
        rows = conn.execute("SELECT position, details FROM test_facts ORDER BY position")
        found = rows.fetchall()
        expected = [p for p, kind in zip(positions, kinds, strict=True) if kind == "ok"]
        assert [p for p, _ in found] == expected
        assert [d["n"] for _, d in found] == [n for n, kind in enumerate(kinds) if kind == "ok"]
        letters = conn.execute(
            "SELECT position, status, error FROM projection_dead_letters ORDER BY position"
        ).fetchall()
        assert [(p, s) for p, s, _ in letters] == [
            (positions[1234], "parked"),
            (positions[2345], "parked"),
        ]
        assert "ValueError: cannot project a poison event" in letters[0][2]
        assert "check constraint" in letters[1][2]


def test_stop_mode_holds_the_poison_events_aggregate_and_the_build_waits_for_retry(
    store: Application[uuid.UUID], parallel: ProjectionSettings, source: EventSource
) -> None:
    kinds = ["ok"] * 3000
    kinds[2100] = "poison"
    positions = _save(store, kinds)
    stopping = replace(parallel, on_error={Facts.name: "stop"})
    # The processes end at the poison event; in process, it is parked and its aggregate held,
    # and the rest is projected. A build holding something back is not switched to.
    with pytest.raises(ProjectorStopped, match="holds back aggregates"):
        operations.rebuild(stopping, source, Facts, threading.Event())
    with admin(parallel.database_url) as conn:
        (generation,) = generations.live(conn, Facts.name)
        assert generation.status == "building"
        table = physical_table("test_facts", generation.generation)
        count = conn.execute(f"SELECT count(*), max(position) FROM {table}").fetchone()
        assert count == (2999, positions[-1])
        tracking = conn.execute(
            "SELECT notification_id FROM projection_tracking WHERE application_name = %s",
            (tracking_name(Facts.name, generation.generation),),
        ).fetchone()
        assert tracking == (positions[-1],)
        (status,) = operations.status(stopping, source, [Facts])
        assert [(d.position, d.status) for d in status.parked] == [(positions[2100], "parked")]
        assert [h.position for h in status.holds] == [positions[2100]]
    # It can never be projected: give up on it, and the build switches.
    report = operations.retry(stopping, source, Facts, skip=[positions[2100]])
    assert report.skipped == [positions[2100]]
    resumed = operations.rebuild(stopping, source, Facts, threading.Event(), resume=True)
    assert resumed == generation.generation


@pytest.mark.long(8)
def test_a_catch_up_process_that_dies_fails_the_run_and_a_resume_finishes_exactly(
    store: Application[uuid.UUID], parallel: ProjectionSettings, source: EventSource
) -> None:
    positions = _save(store, ["ok"] * 4000)
    outcome: list[BaseException | int | None] = []

    def rebuild() -> None:
        try:
            outcome.append(operations.rebuild(parallel, source, SlowFacts, threading.Event()))
        except BaseException as error:
            outcome.append(error)

    builder = threading.Thread(target=rebuild)
    builder.start()
    deadline = time.monotonic() + 30
    while not (lanes := _catch_up_processes()) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1.0)  # mid-way: started, some batches committed
    lanes[0].kill()
    builder.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], catch_up.CatchUpFailed), outcome
    assert "died" in str(outcome[0])
    assert not _catch_up_processes()  # the others were stopped

    resumed = operations.rebuild(parallel, source, SlowFacts, threading.Event(), resume=True)
    assert resumed is not None
    with admin(parallel.database_url) as conn:
        rows = conn.execute("SELECT position FROM test_facts ORDER BY position").fetchall()
        assert [p for (p,) in rows] == positions  # each event once, none lost
