"""A projector with nothing to write lets its tracking position wait (decision 0054): a query
waiting for a position of an event it ignores is still answered, and a restart goes on from the
recorded position, exactly once. (A switch heard: test_rebuild_switch.py.)"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from domain.event_context import EventContext
from domain.runs.run import Run
from projections.engine import operations, projector_worker, view_signals
from projections.engine.commit_pipeline import CommitPipeline
from projections.engine.event_source import EventSource
from projections.engine.projector_host import ProjectorHost
from projections.engine.view_reads import current_position, wait_for
from projections.engine.view_signals import WAIT_CHANNEL, ViewSignals
from projections.settings import ProjectionSettings
from projections.views.directory.security_events import SecurityEvents
from tests.integration.projections.support import Generator, admin, differences
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def idle_for_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a query's wait commits a batch that moves nothing but the tracking position."""
    monkeypatch.setattr(projector_worker, "IDLE_LINGER_S", 3600.0)


def _ignored(store: Application[uuid.UUID], tenant: uuid.UUID) -> int:
    """A run's first event, which the security events' projector does not handle."""
    run = Run(uuid.uuid4(), "intent", str(uuid.uuid4()), None, "app", tenant_id=tenant)
    recordings = store.save(run, context=EventContext(tenant=str(tenant), actor="test"))
    return max(r.notification.id for r in recordings)


def _position(settings: ProjectionSettings) -> int:
    with admin(settings.database_url) as conn:
        return current_position(conn, SecurityEvents.name) or 0


def test_a_wait_for_a_position_the_projector_ignores_is_answered(
    store: Application[uuid.UUID], settings: ProjectionSettings, pool: ConnectionPool[Any]
) -> None:
    generator = Generator(store)
    with ProjectorHost(settings, [SecurityEvents]):
        handled = generator.write(200)
        assert wait_for(pool, SecurityEvents.name, handled, timeout=30) >= handled
        for _ in range(3):
            position = _ignored(store, generator.tenants[0])
            assert _position(settings) < position  # nothing commits it for an hour...
            # ...but a query that waits for it.
            assert wait_for(pool, SecurityEvents.name, position, timeout=30) >= position


@pytest.mark.parametrize("stop", ["clean", "crash"])
def test_a_restart_goes_on_from_the_recorded_position(
    stop: str,
    monkeypatch: pytest.MonkeyPatch,
    store: Application[uuid.UUID],
    settings: ProjectionSettings,
    source: EventSource,
    pool: ConnectionPool[Any],
) -> None:
    if stop == "crash":  # the batch that waits for company is never committed
        monkeypatch.setattr(CommitPipeline, "flush", CommitPipeline.drain)
    generator = Generator(store)
    with ProjectorHost(settings, [SecurityEvents]):
        handled = generator.write(300)
        wait_for(pool, SecurityEvents.name, handled, timeout=30)
        tail = max(_ignored(store, tenant) for tenant in generator.tenants)
    assert handled <= _position(settings) <= tail

    final = max(generator.write(600), tail)
    with ProjectorHost(settings, [SecurityEvents]):
        assert wait_for(pool, SecurityEvents.name, final, timeout=30) >= final
    rebuilt = operations.rebuild(settings, source, SecurityEvents, threading.Event())
    assert rebuilt is not None
    with admin(settings.database_url) as conn:
        found = differences(conn, SecurityEvents, 1, rebuilt)
    # The view followed across the restart has the rows of one built from the whole store.
    assert all(ours == theirs > 0 and differ == 0 for ours, theirs, differ in found.values())


def test_closing_wakes_the_listening_thread_at_once(
    settings: ProjectionSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It hears what is said while it would otherwise sleep for an hour, and `close` ends it
    without waiting for its next look (decision 0068)."""
    monkeypatch.setattr(view_signals, "_LISTEN_FOR_S", 3600.0)
    signals = ViewSignals(settings.database_url).start()
    thread = signals._thread
    assert thread is not None
    try:
        eventually(lambda: signals.listening)
        with admin(settings.database_url) as conn:
            conn.execute("SELECT pg_notify(%s, 'runs 7')", (WAIT_CHANNEL,))
        eventually(lambda: signals.wanted("runs") == 7)
    finally:
        signals.close()
    assert not thread.is_alive()  # before: alive for up to an hour (close joins for 10 s)
    signals.close()  # again: nothing left to close
