"""Group commit sends a few concurrent saves of one message each as single messages, each with
its own expected sequence and answer, in one write (decision 0053); one commit signal after the
last answer. Saves meet in one group as in ``test_group_commit`` (the client's loop held)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from adapters.jetstream import Factory
from adapters.jetstream.client import NatsClient
from tests.integration.adapters.jetstream.test_group_commit import (
    recorder_of,
    save_together,
    stored,
    with_records,
)

FactoryMaker = Callable[..., Factory]

pytestmark = pytest.mark.integration


def spy_sends(client: NatsClient, stream: str) -> dict[str, list[int]]:
    """How many messages each append to ``stream`` carried, by kind: single messages sent
    together (``each``), one message or one atomic batch (``store``)."""
    sends: dict[str, list[int]] = {"each": [], "store": []}
    publisher = client.appends._publisher
    store, store_each = publisher.store, publisher.store_each

    async def spy_store(to: str, frames: Any) -> Any:
        if to == stream:
            sends["store"].append(len(frames))
        return await store(to, frames)

    async def spy_store_each(to: str, frames: Any) -> Any:
        if to == stream:
            sends["each"].append(len(frames))
        return await store_each(to, frames)

    publisher.store = spy_store  # type: ignore[method-assign,assignment]
    publisher.store_each = spy_store_each  # type: ignore[method-assign,assignment]
    return sends


def test_a_few_single_message_saves_go_as_single_messages_with_their_own_positions(
    make_factory: FactoryMaker,
) -> None:
    factory = make_factory()
    recorder = recorder_of(factory)
    aggregates = [uuid.uuid4() for _ in range(5)]
    with_records(factory, aggregates)
    sends = spy_sends(factory.client, factory.settings.stream)
    results = save_together(
        factory.client,
        [lambda a=a: recorder.insert_events([stored(a, 1)]) for a in aggregates],  # type: ignore[misc]
    )
    assert sends == {"store": [1], "each": [4]}  # the first left alone, no atomic batch
    assert all(isinstance(r, list) and len(r) == 1 for r in results), results
    by_id = {n.id: n for n in recorder.select_notifications(None, 100)}
    assert sorted(by_id) == sorted(r[0] for r in results)
    for aggregate, (position,) in zip(aggregates, results, strict=True):
        assert (by_id[position].originator_id, by_id[position].originator_version) == (aggregate, 1)
    # The index learned each position: the next versions go through without a refresh.
    for aggregate in aggregates:
        recorder.insert_events([stored(aggregate, 2)])
        assert [e.originator_version for e in recorder.select_events(aggregate)] == [1, 2]


def test_a_wrong_expected_sequence_refuses_only_its_own_single_message(
    make_factory: FactoryMaker,
) -> None:
    warm = make_factory()
    recorder = recorder_of(warm)
    taken = uuid.uuid4()
    recorder_of(make_factory()).insert_events([stored(taken, 1)])  # unknown to `warm`
    fresh = [uuid.uuid4() for _ in range(4)]
    with_records(warm, fresh)
    # `warm` knows where `taken`'s events go, not that it has any: it expects none.
    assert warm.events_stream().reader.locator.tail(str(taken)) == "system.Account"
    sends = spy_sends(warm.client, warm.settings.stream)
    first, fresh = fresh[0], fresh[1:]
    saves: list[Callable[[], Any]] = [lambda: recorder.insert_events([stored(first, 1)])]
    saves += [lambda: recorder.insert_events([stored(taken, 1)])]
    saves += [lambda a=a: recorder.insert_events([stored(a, 1)]) for a in fresh]  # type: ignore[misc]
    results = save_together(warm.client, saves)
    # `taken`'s expectation (no events yet) was refused among the single messages sent
    # together; the writer then re-read it and found its version 1 stored.
    assert sends["each"][0] == 4
    assert not [n for n in sends["store"] if n > 1]
    assert isinstance(results[1], IntegrityError)
    assert all(isinstance(r, list) for r in results[:1] + results[2:]), results
    assert [e.originator_version for e in recorder.select_events(taken)] == [1]
    for aggregate in [first, *fresh]:
        assert [e.originator_version for e in recorder.select_events(aggregate)] == [1]


def test_one_signal_after_the_last_answer_of_single_messages_sent_together(
    make_factory: FactoryMaker,
) -> None:
    factory = make_factory()
    recorder = recorder_of(factory)
    aggregates = [uuid.uuid4() for _ in range(5)]
    with_records(factory, aggregates)
    client, stream = factory.client, factory.settings.stream
    appends = client.appends
    group_of: list[Any] = []  # the saves of the last group taken
    take_group = appends._take_group

    def spy_take_group(pending: Any) -> Any:
        group = take_group(pending)
        group_of[:] = group
        return group

    appends._take_group = spy_take_group  # type: ignore[method-assign]
    signals: list[tuple[int, list[bool]]] = []  # sequence announced, callers answered by then
    announce = appends._publisher._announce

    async def spy_announce(to: str, ack: dict[str, Any]) -> None:
        if to == stream:
            signals.append((int(ack["seq"]), [save.future.done() for save in group_of]))
        await announce(to, ack)

    appends._publisher._announce = spy_announce  # type: ignore[method-assign,assignment]

    def save(aggregate: UUID) -> Callable[[], Any]:
        return lambda: recorder.insert_events([stored(aggregate, 1)])

    results = save_together(client, [save(a) for a in aggregates])
    assert all(isinstance(r, list) for r in results), results
    # One signal for the lone first save, one for the four sent together: the last of their
    # positions, announced before any of their callers was answered.
    assert signals == [
        (results[0][0], [False]),
        (max(r[0] for r in results[1:]), [False] * 4),
    ]
