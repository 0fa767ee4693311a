"""Snapshots: a long aggregate loads from its snapshot and the events after it, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from adapters.jetstream import Factory

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


RECORDS = 2  # a cold load reads the aggregate's record in the snapshots and events streams


class Counters(Application[UUID]):
    is_snapshotting_enabled = True


def fetched(app: Application[UUID]) -> int:
    factory = app.factory
    assert isinstance(factory, Factory)
    return factory.client.messages_fetched


def test_loading_reads_the_snapshot_and_later_events_only(make_factory: FactoryMaker) -> None:
    env = dict(make_factory().env)
    writer = Counters(env=env)
    counter = Counter()
    for _ in range(10_000 - 1):
        counter.increment()
        if len(counter.pending_events) == 1000:
            writer.save(counter)
    writer.save(counter)
    assert counter.version == 10_000
    writer.take_snapshot(counter.id)

    assert writer.snapshots is not None
    snapshot_recorder = writer.snapshots.recorder
    snapshots = snapshot_recorder.select_events(counter.id)
    assert [s.originator_version for s in snapshots] == [10_000]

    reader = Counters(env=env)  # another process: nothing cached
    before = fetched(reader)
    loaded: Counter = reader.repository.get(counter.id)
    assert (loaded.count, loaded.version) == (9_999, 10_000)
    # The aggregate's records (where its snapshots and its events are), then the snapshot; no
    # event follows it.
    assert fetched(reader) - before == RECORDS + 1

    for _ in range(5):
        loaded.increment()
    reader.save(loaded)

    fresh = Counters(env=env)
    before = fetched(fresh)
    again: Counter = fresh.repository.get(counter.id)
    assert (again.count, again.version) == (10_004, 10_005)
    assert fetched(fresh) - before == RECORDS + 1 + 5

    without_snapshots = Application[UUID](env=env)
    before = fetched(without_snapshots)
    replayed: Counter = without_snapshots.repository.get(counter.id)
    assert replayed.count == 10_004
    assert fetched(without_snapshots) - before == 1 + 10_005  # the contrast: a full replay
    for app in (writer, reader, fresh, without_snapshots):
        app.close()


def test_a_snapshot_stored_by_a_process_that_knows_no_positions_is_linked(
    make_factory: FactoryMaker,
) -> None:
    env = dict(make_factory().env)
    writer = Counters(env=env)
    counter = Counter()
    for _ in range(2999):
        counter.increment()
        if len(counter.pending_events) == 1000:
            writer.save(counter)
    writer.save(counter)
    older: Counter = writer.repository.get(counter.id, version=2000)
    snapshot = writer.mapper.to_stored_event(Counter.Snapshot.take(older))
    # Another process, which knows no positions, stores the snapshot: it finds the position
    # of version 2,000 by binary search, not by reading 2,000 events.
    cold = make_factory()
    before = cold.client.messages_fetched
    cold.aggregate_recorder(purpose="snapshots").insert_events([snapshot])
    assert cold.client.messages_fetched - before <= 2 * 12 + 2
    fresh = Counters(env=env)
    before = fetched(fresh)
    loaded: Counter = fresh.repository.get(counter.id)
    assert loaded.version == 3000
    assert fetched(fresh) - before == RECORDS + 1 + 1000
    writer.close()
    fresh.close()


def test_reading_after_an_unknown_version_searches_instead_of_replaying(
    make_factory: FactoryMaker,
) -> None:
    env = dict(make_factory().env)
    writer = Counters(env=env)
    counter = Counter()
    for _ in range(2999):
        counter.increment()
        if len(counter.pending_events) == 1000:
            writer.save(counter)
    writer.save(counter)
    cold = make_factory()
    recorder = cold.aggregate_recorder()
    before = cold.client.messages_fetched
    events = recorder.select_events(counter.id, gt=2990)
    assert [e.originator_version for e in events] == list(range(2991, 3001))
    assert cold.client.messages_fetched - before < 10 + 2 * 12  # 10 events + a binary search
    writer.close()
