"""Group commit: concurrent saves combined into one atomic batch, each still all or nothing.

To make saves meet in one batch deterministically, a test blocks the client's event loop for a
moment while its threads hand over their saves; the first save then leaves alone and the others
queue behind it and are combined. A new aggregate's first save stores its record (where its
events go) before its events: the tests store the records beforehand, so that each save under
test is one append.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from adapters.jetstream import Factory, JetStreamApplicationRecorder
from adapters.jetstream.client import NatsClient
from domain.event_context import EventContext

FactoryMaker = Callable[..., Factory]

pytestmark = pytest.mark.integration

TOPIC = "tests.group:Account.Credited"


def recorder_of(factory: Factory) -> JetStreamApplicationRecorder:
    recorder = factory.application_recorder()
    assert isinstance(recorder, JetStreamApplicationRecorder)
    return recorder


def stored(originator_id: UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id, version, TOPIC, b'{"v":%d}' % version)


def with_records(factory: Factory, aggregates: list[UUID]) -> None:
    """Store the aggregates' records, as their first save would, and let the factory learn
    them (not their positions: it has seen no event of them)."""
    locator = factory.events_stream().reader.locator
    for aggregate in aggregates:
        key = str(aggregate)
        record = locator.record_frame(key, "system.Account", b"")
        ack = factory.client.appends.append(locator.records_stream, [record], frozenset())
        assert not ack.get("error"), ack
        assert locator.tail(key) == "system.Account"


def spy_groups(client: NatsClient) -> list[list[frozenset[str]]]:
    """The keys of the saves in each batch of events the client sends."""
    groups: list[list[frozenset[str]]] = []
    original = client.appends._take_group

    def take_group(pending: Any) -> Any:
        group = original(pending)
        if group and not group[0].stream.endswith("_aggregates"):
            groups.append([save.keys for save in group])
        return group

    client.appends._take_group = take_group  # type: ignore[method-assign]
    return groups


def save_together(client: NatsClient, saves: list[Callable[[], Any]]) -> list[Any]:
    """Run the saves in threads, each handing its save over in list order while the client's
    loop is held, so that they queue together; returns each one's result or exception."""
    results: list[Any] = [None] * len(saves)
    loop = client.loop
    original = loop.call_soon_threadsafe
    handed_over = threading.Semaphore(0)

    def call_soon_threadsafe(callback: Any, *args: Any, **kwargs: Any) -> Any:
        handle = original(callback, *args, **kwargs)
        if getattr(callback, "__name__", "") == "_enqueue":
            handed_over.release()
        return handle

    def run(index: int) -> None:
        try:
            results[index] = saves[index]()
        except Exception as e:
            results[index] = e

    release = threading.Event()
    original(release.wait, 30)  # holds the loop
    loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign,assignment]
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(saves))]
    try:
        for thread in threads:
            thread.start()
            assert handed_over.acquire(timeout=10)
    finally:
        loop.call_soon_threadsafe = original  # type: ignore[method-assign]
        release.set()
    for thread in threads:
        thread.join(30)
    return results


def group_of(groups: list[list[frozenset[str]]], key: str) -> list[frozenset[str]]:
    return next(group for group in groups if any(key in save_keys for save_keys in group))


def test_concurrent_saves_share_batches_and_get_their_own_positions(
    make_factory: FactoryMaker,
) -> None:
    factory = make_factory()
    recorder = recorder_of(factory)
    groups = spy_groups(factory.client)
    aggregates = [uuid.uuid4() for _ in range(12)]
    with_records(factory, aggregates)

    def save(aggregate: UUID) -> Callable[[], Any]:
        return lambda: recorder.insert_events([stored(aggregate, v) for v in (1, 2, 3)])

    results = save_together(factory.client, [save(a) for a in aggregates])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [len(group) for group in groups[:2]] == [1, 11]  # the first left alone
    # Each save's ids are its own events' positions, contiguous.
    by_id = {n.id: n for n in recorder.select_notifications(None, 100)}
    assert len(by_id) == 36
    for aggregate, ids in zip(aggregates, results, strict=True):
        assert ids == list(range(ids[0], ids[0] + 3))
        assert [(by_id[i].originator_id, by_id[i].originator_version) for i in ids] == [
            (aggregate, 1),
            (aggregate, 2),
            (aggregate, 3),
        ]
    # And the index learned them: the next versions go through without a refresh.
    for aggregate in aggregates:
        recorder.insert_events([stored(aggregate, 4)])
        assert [e.originator_version for e in recorder.select_events(aggregate)] == [1, 2, 3, 4]


def test_saves_on_the_same_aggregate_never_share_a_batch(make_factory: FactoryMaker) -> None:
    factory = make_factory()
    recorder = recorder_of(factory)
    groups = spy_groups(factory.client)
    shared = uuid.uuid4()
    recorder.insert_events([stored(shared, 1)])
    others = [uuid.uuid4() for _ in range(6)]
    with_records(factory, others)
    saves: list[Callable[[], Any]] = [
        lambda: recorder.insert_events([stored(shared, 2)]) for _ in range(6)
    ]
    saves += [lambda a=a: recorder.insert_events([stored(a, 1)]) for a in others]  # type: ignore[misc]
    results = save_together(factory.client, saves)
    for group in groups:
        keys = [key for save_keys in group for key in save_keys]
        assert len(keys) == len(set(keys)), group
    outcomes = results[:6]
    assert sum(isinstance(r, list) for r in outcomes) == 1
    assert sum(isinstance(r, IntegrityError) for r in outcomes) == 5
    assert all(isinstance(r, list) for r in results[6:])
    assert [e.originator_version for e in recorder.select_events(shared)] == [1, 2]


def test_a_refused_save_leaves_the_others_of_its_batch_stored(make_factory: FactoryMaker) -> None:
    warm = make_factory()
    recorder = recorder_of(warm)
    taken = uuid.uuid4()
    recorder_of(make_factory()).insert_events([stored(taken, 1)])  # unknown to `warm`
    fresh = [uuid.uuid4() for _ in range(6)]
    with_records(warm, fresh)
    # `warm` knows where `taken`'s events go, not that it has any: it expects none.
    assert warm.events_stream().reader.locator.tail(str(taken)) == "system.Account"
    groups = spy_groups(warm.client)
    first, fresh = fresh[0], fresh[1:]
    saves: list[Callable[[], Any]] = [lambda: recorder.insert_events([stored(first, 1)])]
    saves += [lambda: recorder.insert_events([stored(taken, 1), stored(taken, 2)])]
    saves += [lambda a=a: recorder.insert_events([stored(a, 1)]) for a in fresh]  # type: ignore[misc]
    results = save_together(warm.client, saves)
    assert len(group_of(groups, str(taken))) == 6  # the refused save was in a combined batch
    assert isinstance(results[1], IntegrityError)
    assert all(isinstance(r, list) for r in results[:1] + results[2:]), results
    assert [e.originator_version for e in recorder.select_events(taken)] == [1]
    for aggregate in fresh:
        assert [e.originator_version for e in recorder.select_events(aggregate)] == [1]
    stored_ids = [n.id for n in recorder.select_notifications(None, 100)]
    assert stored_ids == sorted({1, *[i for r in results if isinstance(r, list) for i in r]})


def test_a_retried_command_in_a_combined_batch_is_not_applied_twice(
    make_factory: FactoryMaker,
) -> None:
    retried = uuid.uuid4()
    once = EventContext(command_id="cmd-once")
    # Applied by another process, whose ack was lost (to an aggregate that existed: a
    # creation carries no marker):
    elsewhere = recorder_of(make_factory())
    elsewhere.insert_events([stored(retried, 1)])
    first = elsewhere.insert_events([stored(retried, 2)], context=once)
    factory = make_factory()
    recorder = recorder_of(factory)
    groups = spy_groups(factory.client)

    def again() -> Any:
        return recorder.insert_events([stored(retried, 2)], context=once)

    pairs = [(uuid.uuid4(), uuid.uuid4()) for _ in range(5)]
    with_records(factory, [a for pair in pairs for a in pair])
    assert factory.events_stream().reader.locator.tail(str(retried)) == "system.Account"

    def other(n: int) -> Any:
        return recorder.insert_events(
            [stored(a, 1) for a in pairs[n]], context=EventContext(command_id=f"cmd-other-{n}")
        )

    saves: list[Callable[[], Any]] = [lambda: other(0), again]
    saves += [lambda n=n: other(n) for n in range(1, 5)]  # type: ignore[misc]
    results = save_together(factory.client, saves)
    assert len(group_of(groups, "\0command:cmd-once")) == 5
    assert results[1] == first
    assert all(isinstance(r, list) and len(r) == 2 for r in results[:1] + results[2:]), results
    assert [e.originator_version for e in recorder.select_events(retried)] == [1, 2]
    assert len(recorder.select_notifications(None, 100)) == 2 + 2 * 5


def test_group_commit_can_be_switched_off(make_factory: FactoryMaker) -> None:
    factory = make_factory(NATS_GROUP_COMMIT="no")
    assert not factory.client.group_commit
    recorder = recorder_of(factory)
    groups = spy_groups(factory.client)
    aggregates = [uuid.uuid4() for _ in range(8)]
    results = save_together(
        factory.client,
        [lambda a=a: recorder.insert_events([stored(a, 1), stored(a, 2)]) for a in aggregates],  # type: ignore[misc]
    )
    assert all(isinstance(r, list) for r in results), results
    assert groups and all(len(group) == 1 for group in groups)
    assert len(recorder.select_notifications(None, 100)) == 16


def test_only_a_full_batch_is_sent_while_another_is_in_flight(make_factory: FactoryMaker) -> None:
    factory = make_factory()
    recorder = recorder_of(factory)
    client = factory.client
    aggregates = [uuid.uuid4() for _ in range(12)]
    with_records(factory, aggregates)
    taken: list[tuple[int, int]] = []  # (saves in the batch, batches in flight when taken)
    original = client.appends._take_group

    def take_group(pending: Any) -> Any:
        group = original(pending)
        if group:
            taken.append((len(group), client.appends._queues[factory.settings.stream].inflight))
        return group

    client.appends._take_group = take_group  # type: ignore[method-assign]
    sizes = [1] + [100] * 11  # a lone save, then 1,100 messages: one full batch and a rest

    def save(aggregate: UUID, size: int) -> Callable[[], Any]:
        return lambda: recorder.insert_events([stored(aggregate, v) for v in range(1, size + 1)])

    results = save_together(client, [save(a, n) for a, n in zip(aggregates, sizes, strict=True)])
    assert all(isinstance(r, list) for r in results), results
    # The full batch went while the lone save was still in flight; the rest, not a full
    # batch, waited until nothing was in flight (and could take later saves along).
    assert taken == [(1, 0), (10, 1), (1, 0)]
    assert len(recorder.select_notifications(None, 2000)) == 1 + 1100


def test_while_saves_come_fast_an_atomic_batch_waits_for_the_next_one(
    make_factory: FactoryMaker,
) -> None:
    """Decision 0072: a group that must go as an atomic batch waits (here up to 0.9 s) for
    other saves to share it, once saves arrive faster than that; a quiet stream's does not."""
    factory = make_factory(NATS_BATCH_LINGER="0.9")
    recorder = recorder_of(factory)
    first, second, quiet = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    busy = [uuid.uuid4() for _ in range(60)]
    with_records(factory, [first, second, quiet, *busy])
    groups = spy_groups(factory.client)
    # A quiet stream (a new client knows no faster pace): the atomic batch leaves at once.
    began = time.monotonic()
    recorder.insert_events([stored(quiet, v) for v in (1, 2, 3)])
    assert time.monotonic() - began < 0.6  # not held for the 0.9 s wait
    # Sixty saves one after another: saves now come faster than the wait.
    for aggregate in busy:
        recorder.insert_events([stored(aggregate, 1)])
    waited: list[Any] = []
    alone = threading.Thread(
        target=lambda: waited.append(recorder.insert_events([stored(first, 1), stored(first, 2)]))
    )
    alone.start()
    time.sleep(0.3)  # the first atomic batch is waiting: the second one joins it
    recorder.insert_events([stored(second, 1), stored(second, 2)])
    alone.join(10)
    assert waited and isinstance(waited[0], list)
    shared = group_of(groups, str(first))
    assert any(str(second) in keys for keys in shared), groups[-3:]
    assert [e.originator_version for e in recorder.select_events(first)] == [1, 2]
    assert [e.originator_version for e in recorder.select_events(second)] == [1, 2]
