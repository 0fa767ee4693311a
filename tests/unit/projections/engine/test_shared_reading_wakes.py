"""The shared reading wakes a waiting worker only for a page it asked for (decision 0059):
one that waits for some topics sleeps through pages of others, and takes them with the
next page it wakes for."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification

from projections.engine.shared_reading import SharedReader

pytestmark = pytest.mark.unit


def _n(position: int, topic: str) -> Notification:
    return Notification(
        id=position, originator_id=uuid4(), originator_version=1, topic=topic, state=b""
    )


class PagedStore:
    """A stream whose reading hands over the pages a test gives it (`page`)."""

    def __init__(self) -> None:
        self.into: Callable[[Sequence[Notification]], None] | None = None
        self.stopped = threading.Event()

    def max_position(self) -> int:
        return 0

    def follow(self, after: int, into: Callable[[Sequence[Notification]], None]) -> PagedStore:
        self.into = into
        return self

    def __enter__(self) -> PagedStore:
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopped.set()

    def __iter__(self) -> Iterator[Notification]:
        self.stopped.wait(30)
        return iter(())

    def page(self, *notifications: Notification) -> None:
        assert self.into is not None
        self.into(notifications)


class Taker:
    """A worker waiting in `take` on a thread of its own."""

    def __init__(self, reader: SharedReader, wake_for: frozenset[str] | None) -> None:
        self.got: list[Notification] | None = None
        self.thread = threading.Thread(
            target=lambda: setattr(self, "got", reader.take(0, 10, 30.0, wake_for))
        )
        self.thread.start()

    def positions(self) -> list[int]:
        self.thread.join(10)
        assert not self.thread.is_alive() and self.got is not None
        return [n.id for n in self.got]


@pytest.fixture
def store() -> Iterator[PagedStore]:
    yield PagedStore()


@pytest.fixture
def reader(store: PagedStore) -> Iterator[SharedReader]:
    reading = SharedReader(cast(Any, store))
    assert reading.join(0)
    yield reading
    reading.close()


def _waiting(reader: SharedReader, count: int) -> None:
    """Until `count` workers wait in `take` (a thread's start is not its wait)."""
    for _ in range(1000):
        with reader._lock:
            if len(reader._waiters) == count:
                return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} workers never waited")


def test_a_page_wakes_only_the_workers_waiting_for_one_of_its_topics(
    store: PagedStore, reader: SharedReader
) -> None:
    runs, others, anything = (
        Taker(reader, frozenset({"run"})),
        Taker(reader, frozenset({"user"})),
        Taker(reader, None),
    )
    _waiting(reader, 3)
    store.page(_n(1, "run"), _n(2, "tick"))
    assert runs.positions() == [1, 2] and anything.positions() == [1, 2]
    assert others.thread.is_alive()
    with reader._lock:
        assert list(reader._waiters.values()) == [frozenset({"user"})]
    store.page(_n(3, "user"))
    assert others.positions() == [1, 2, 3]  # what it slept through is taken with it


def test_a_worker_sleeps_through_pages_of_other_topics_and_takes_them_with_its_own(
    store: PagedStore, reader: SharedReader
) -> None:
    store.page(_n(1, "run"))
    got: list[list[Notification] | None] = []
    waiting = threading.Thread(
        target=lambda: got.append(reader.take(1, 10, 30.0, frozenset({"user"})))
    )
    waiting.start()
    _waiting(reader, 1)
    store.page(_n(2, "run"), _n(3, "run"))
    store.page(_n(4, "tick"))
    assert waiting.is_alive()
    with reader._lock:
        assert list(reader._waiters.values()) == [frozenset({"user"})]
    store.page(_n(5, "run"), _n(6, "user"))
    waiting.join(10)
    assert [[n.id for n in taken or []] for taken in got] == [[2, 3, 4, 5, 6]]


def test_close_wakes_every_waiting_worker(store: PagedStore, reader: SharedReader) -> None:
    takers = [Taker(reader, frozenset({"user"})), Taker(reader, None)]
    _waiting(reader, 2)
    reader.close()
    for taker in takers:
        taker.thread.join(10)
        assert not taker.thread.is_alive()
    assert not reader._waiters


def test_a_worker_that_waits_for_any_page_is_woken_by_each(
    store: PagedStore, reader: SharedReader
) -> None:
    first = Taker(reader, None)
    _waiting(reader, 1)
    store.page(_n(1, "tick"))
    assert first.positions() == [1]
    assert reader.take(0, 10, 0.0, frozenset({"run"})) == list(first.got or [])


def test_a_stopping_host_wakes_the_waiting_workers_and_no_take_waits_after(
    store: PagedStore, reader: SharedReader
) -> None:
    store.page(_n(1, "run"))
    takers = [Taker(reader, frozenset({"user"})), Taker(reader, None)]  # taking after 0
    assert [taker.positions() for taker in takers] == [[1], [1]]  # 1 was there: no wait
    got: list[list[Notification] | None] = []
    waiting = [
        threading.Thread(target=lambda w=wanted: got.append(reader.take(1, 10, 30.0, w)))
        for wanted in (frozenset({"user"}), None)
    ]
    for thread in waiting:
        thread.start()
    _waiting(reader, 2)
    reader.stop_waiting()
    for thread in waiting:
        thread.join(10)
        assert not thread.is_alive()
    # Nothing new, and still on the shared reading (None would send them to read alone).
    assert got == [[], []]
    later: list[list[Notification] | None] = []
    taking = threading.Thread(target=lambda: later.append(reader.take(1, 10, 60.0)))
    taking.start()
    taking.join(10)  # no take waits any more: a minute's wait would still be on
    assert not taking.is_alive() and later == [[]]
    store.page(_n(2, "run"))
    assert [n.id for n in reader.take(1, 10, 30.0) or []] == [2]  # what comes is still kept
