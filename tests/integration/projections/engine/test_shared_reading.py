"""Projectors of one process share one reading of the stream (decision 0041): one stalled far
behind (its handler blocked) holds the others back not at all, then catches up alone; every
event reaches each view exactly once."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
import pytest
from eventsourcing.application import Application

from domain.event_context import EventContext
from domain.identity.credential import SecurityEvent
from projections.engine import shared_reading
from projections.engine.projector_base import Projector, Writes, handles
from projections.engine.projector_host import ProjectorHost
from projections.engine.projector_worker import Worker
from projections.settings import ProjectionSettings
from tests.integration.projections.support import admin

pytestmark = pytest.mark.integration

TENANT = uuid.uuid4()
RECORDED = "domain.identity.credential:SecurityEvent.SecurityEventRecorded"
WINDOW = 30  # notifications the shared reading keeps: the stalled projector falls far behind


class Quick(Projector):
    name = "test_quick"
    tables = ("test_quick",)
    schema_sql = (
        "CREATE TABLE {test_quick} (tenant_id uuid NOT NULL, position bigint PRIMARY KEY,"
        " kind text NOT NULL)"
    )

    @handles(RECORDED)
    def recorded(self, event: Any, position: int, writes: Writes) -> None:
        sql = self.sql("INSERT INTO {test_quick} VALUES (%s, %s, %s)")
        writes.execute(sql, (event.tenant_id, position, event.kind))


class Stalled(Projector):
    """Its handler waits at a `stall` event until the test opens the gate."""

    name = "test_stalled"
    tables = ("test_stalled",)
    schema_sql = (
        "CREATE TABLE {test_stalled} (tenant_id uuid NOT NULL, position bigint PRIMARY KEY,"
        " kind text NOT NULL)"
    )
    gate: ClassVar[threading.Event] = threading.Event()
    waiting: ClassVar[threading.Event] = threading.Event()

    @handles(RECORDED)
    def recorded(self, event: Any, position: int, writes: Writes) -> None:
        if event.kind == "stall" and not self.gate.is_set():
            self.waiting.set()
            assert self.gate.wait(60), "the test never opened the gate"
        sql = self.sql("INSERT INTO {test_stalled} VALUES (%s, %s, %s)")
        writes.execute(sql, (event.tenant_id, position, event.kind))


def _save(store: Application[uuid.UUID], *kinds: str) -> list[int]:
    facts = [SecurityEvent(kind, TENANT, None, None, "succeeded", {}) for kind in kinds]
    return [r.notification.id for r in store.save(*facts, context=EventContext(tenant=str(TENANT)))]


def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _reached(worker: Worker, position: int) -> Callable[[], bool]:
    return lambda: worker.position == position


def _rows(conn: psycopg.Connection[Any], table: str) -> list[tuple[int, str]]:
    found = conn.execute(f"SELECT position, kind FROM {table} ORDER BY position").fetchall()
    return [(int(p), str(k)) for p, k in found]


def test_a_stalled_projector_holds_the_others_back_not_at_all_and_nothing_doubles(
    store: Application[uuid.UUID],
    settings: ProjectionSettings,
    monkeypatch: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "cairn.projections")
    monkeypatch.setattr(shared_reading, "WINDOW", WINDOW)
    Stalled.gate.clear()
    Stalled.waiting.clear()
    saved = [(p, "first") for p in _save(store, "first")]
    with ProjectorHost(settings, [Quick, Stalled]) as host, admin(settings.database_url) as conn:
        quick, stalled = host.workers[Quick.name], host.workers[Stalled.name]
        _until(lambda: quick.position == stalled.position == saved[-1][0], "both to start")
        saved += [(p, "stall") for p in _save(store, "stall")]
        assert Stalled.waiting.wait(60), "the stalled projector never met its event"
        # While one worker is stuck, the other follows the shared reading live: in small
        # saves (as commands make them), far more events than the reading keeps.
        for index in range(12):
            kinds = [f"k{index}-{n}" for n in range(5)]
            positions = _save(store, *kinds)
            saved += zip(positions, kinds, strict=True)
            _until(_reached(quick, positions[-1]), "the quick projector, live")
        assert _rows(conn, "test_quick") == saved  # each once, none lost
        assert stalled.position == saved[0][0]
        assert _rows(conn, "test_stalled") == saved[:1]

        Stalled.gate.set()  # it catches up alone (the reading no longer keeps its events)
        _until(lambda: stalled.position == saved[-1][0], "the stalled projector to catch up")
        more = _save(store, "after-1", "after-2")
        saved += zip(more, ["after-1", "after-2"], strict=True)
        _until(lambda: stalled.position == quick.position == more[-1], "both, live again")
        assert _rows(conn, "test_stalled") == saved
        assert _rows(conn, "test_quick") == saved
        said = [r.getMessage() for r in caplog.records]
        assert any(m.startswith(f"projector {Stalled.name}: reading alone") for m in said)
        assert any(m.startswith(f"projector {Stalled.name}: back on the shared") for m in said)
        assert not any(m.startswith(f"projector {Quick.name}: reading alone") for m in said)
        letters = conn.execute("SELECT count(*) FROM projection_dead_letters").fetchone()
        assert letters is not None and letters[0] == 0
