"""Timers as due rows: each due timer fired once at a time, failures put off, never lost."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from adapters.postgres.timers import PostgresTimers
from commands.ports.timers import Timer

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TENANT = uuid.uuid4()


@pytest.fixture
def timers(migrated_database_url: str) -> Iterator[PostgresTimers]:
    with ConnectionPool(migrated_database_url, min_size=1, max_size=8, open=True) as pool:
        yield PostgresTimers(pool)


def timer(seconds: float, kind: str = "test.kind") -> Timer:
    return Timer(kind, uuid.uuid4(), TENANT, NOW + timedelta(seconds=seconds))


def test_only_due_timers_fire_in_due_order(timers: PostgresTimers) -> None:
    later, sooner, future = timer(-1), timer(-5), timer(60)
    for t in (later, sooner, future):
        timers.schedule(t)
    fired: list[Timer] = []
    assert timers.fire_due(NOW, fired.append) == 2
    assert [t.subject_id for t in fired] == [sooner.subject_id, later.subject_id]
    assert timers.fire_due(NOW, fired.append) == 0
    assert timers.next_due() == future.due_at


def test_scheduling_twice_is_one_timer_and_a_new_time_replaces_the_old(
    timers: PostgresTimers,
) -> None:
    first = timer(-1)
    timers.schedule(first)
    timers.schedule(first)
    moved = Timer(first.kind, first.subject_id, TENANT, NOW + timedelta(seconds=30))
    timers.schedule(moved)
    fired: list[Timer] = []
    assert timers.fire_due(NOW, fired.append) == 0
    assert timers.fire_due(NOW + timedelta(seconds=30), fired.append) == 1
    assert fired == [moved]


def test_a_failing_timer_is_put_off_with_backoff_and_fires_later(timers: PostgresTimers) -> None:
    failing = timer(-1)
    timers.schedule(failing)

    def broken(_: Timer) -> None:
        raise ConnectionError("store down")

    assert timers.fire_due(NOW, broken) == 0
    assert timers.next_due() == NOW + timedelta(seconds=1)  # 2**0 s after the failed attempt
    assert timers.fire_due(NOW + timedelta(seconds=1), broken) == 0
    assert timers.next_due() == NOW + timedelta(seconds=3)  # then 2**1 s
    fired: list[Timer] = []
    assert timers.fire_due(NOW + timedelta(seconds=3), fired.append) == 1
    assert [t.subject_id for t in fired] == [failing.subject_id]
    assert timers.next_due() is None


def test_concurrent_workers_never_fire_one_timer_twice(timers: PostgresTimers) -> None:
    due = [timer(-i) for i in range(1, 41)]
    for t in due:
        timers.schedule(t)
    fired: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def slow_fire(t: Timer) -> None:
        with lock:
            fired.append(t.subject_id)
        threading.Event().wait(0.005)  # holding the row while "working"

    def worker() -> None:
        start.wait()
        timers.fire_due(NOW, slow_fire, limit=100)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(fired) == sorted(t.subject_id for t in due)
    assert timers.next_due() is None


def test_a_timer_that_sets_itself_again_while_firing_keeps_the_next_one(
    timers: PostgresTimers,
) -> None:
    # What the keep-alive and the webhook pruning do, through another PostgresTimers on the
    # same pool: before, the upsert waited for the row lock the firing held, for ever.
    again = PostgresTimers(timers.pool)
    first = timer(-1)
    timers.schedule(first)
    following = Timer(first.kind, first.subject_id, TENANT, NOW + timedelta(hours=1))
    fired: list[int] = []
    firing = threading.Thread(
        target=lambda: fired.append(timers.fire_due(NOW, lambda _: again.schedule(following))),
        daemon=True,
    )
    firing.start()
    firing.join(30)
    assert not firing.is_alive(), "the timer's own rescheduling waited for its row lock"
    assert fired == [1]
    assert timers.next_due() == following.due_at
    seen: list[Timer] = []
    assert timers.fire_due(following.due_at, seen.append) == 1 and seen == [following]
