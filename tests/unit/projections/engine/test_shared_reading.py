"""One reading of the stream for every worker of a process: each worker gets every notification
once and in order; a worker that falls behind the window reads alone without holding the
others back, then comes back to the shared reading."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, cast
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification

from projections.engine import shared_reading
from projections.engine.event_source import EventSource
from projections.engine.shared_reading import Lane, SharedReader

pytestmark = pytest.mark.unit


def _n(position: int) -> Notification:
    return Notification(
        id=position, originator_id=uuid4(), originator_version=1, topic="t", state=b""
    )


class FakeStore:
    """A stream whose subscriptions follow it live (as the store's do) until stopped; with
    `pages`, `follow` hands what it reads to its callable (as the JetStream store's does)."""

    def __init__(self, positions: Iterable[int], *, pages: bool = False) -> None:
        self.pages = pages
        self.stored = [_n(p) for p in positions]
        self.changed = threading.Condition()
        self.subscriptions: list[FakeSubscription] = []
        self.recorder = self

    def append(self, positions: Iterable[int]) -> None:
        with self.changed:
            self.stored += [_n(p) for p in positions]
            self.changed.notify_all()

    def select_notifications(
        self, start: int, limit: int, *, inclusive_of_start: bool = True
    ) -> list[Notification]:
        assert not inclusive_of_start
        with self.changed:
            return [n for n in self.stored if n.id > start][:limit]

    def max_position(self) -> int:
        with self.changed:
            return self.stored[-1].id if self.stored else 0

    def subscribe(self, after: int) -> FakeSubscription:
        subscription = FakeSubscription(self, after)
        self.subscriptions.append(subscription)
        return subscription

    def follow(self, after: int, into: Callable[[list[Notification]], None]) -> FakeSubscription:
        subscription = FakeSubscription(self, after, into if self.pages else None)
        self.subscriptions.append(subscription)
        return subscription

    def reading(self) -> int:
        """Subscriptions open now."""
        return sum(not s.stopped for s in self.subscriptions)


class FakeSubscription:
    def __init__(
        self,
        store: FakeStore,
        after: int,
        into: Callable[[list[Notification]], None] | None = None,
    ) -> None:
        self.store, self.after, self.stopped = store, after, False
        self.into = into  # then pages go there and nothing is yielded
        self.failure: Exception | None = None

    def __enter__(self) -> FakeSubscription:
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()

    def stop(self) -> None:
        with self.store.changed:
            self.stopped = True
            self.store.changed.notify_all()

    def __iter__(self) -> FakeSubscription:
        return self

    def __next__(self) -> Notification:
        while True:
            with self.store.changed:
                while True:
                    if self.stopped:
                        raise StopIteration
                    if self.failure is not None:
                        raise self.failure
                    following = [n for n in self.store.stored if n.id > self.after]
                    if following:
                        break
                    self.store.changed.wait()
                if self.into is None:
                    self.after = following[0].id
                    return following[0]
                page = following[:3]  # pages of a few, as reads of a live stream are
                self.after = page[-1].id
            self.into(page)


def _take(lane: Lane, count: int, limit: int = 7) -> list[int]:
    got: list[int] = []
    for _ in range(1000):
        if len(got) >= count:
            break
        batch = lane.take(limit, 0.05)
        assert len(batch) <= limit
        got += [n.id for n in batch]
    return got


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _until_shared(lane: Lane) -> None:
    for _ in range(200):
        if not lane.alone:
            return
        assert lane.take(7, 0.01) == []
    raise AssertionError("the lane never came back to the shared reading")


@pytest.fixture(params=[False, True], ids=["yielded", "handed-in-pages"])
def store(request: pytest.FixtureRequest) -> FakeStore:
    return FakeStore(range(2, 42, 2), pages=request.param)  # not contiguous, like sequences


def _reader(store: FakeStore, window: int = 10) -> SharedReader:
    return SharedReader(cast(EventSource, store), window)


def test_workers_share_one_reading_and_each_gets_every_notification_once(
    store: FakeStore,
) -> None:
    reader = _reader(store, window=100)
    first, second = Lane(reader, 30, "a"), Lane(reader, 36, "b")
    assert first.alone and second.alone  # nothing read for them yet: each catches up alone
    assert _take(first, 5) == [32, 34, 36, 38, 40]
    assert _take(second, 2) == [38, 40]
    _until_shared(first)
    _until_shared(second)
    assert store.reading() == 1  # their own feeds are closed: one reading left

    store.append(range(41, 101))
    assert _take(first, 60) == list(range(41, 101))
    assert _take(second, 60) == list(range(41, 101))
    assert first.take(7, 0.01) == [] and second.take(7, 0.01) == []
    assert store.reading() == 1
    for lane in (first, second):
        lane.close()
    reader.close()
    assert store.reading() == 0


def test_a_stalled_worker_holds_no_one_back_then_catches_up_alone(store: FakeStore) -> None:
    reader = _reader(store, window=50)
    quick, stalled = Lane(reader, 40, "quick"), Lane(reader, 40, "stalled")
    _until_shared(quick)
    _until_shared(stalled)
    store.append(range(41, 44))
    assert _take(stalled, 3) == [41, 42, 43]
    assert _take(quick, 3) == [41, 42, 43]

    for start in range(44, 444, 20):  # while `stalled` takes nothing at all
        store.append(range(start, start + 20))
        assert _take(quick, 20) == list(range(start, start + 20))
        assert not quick.alone  # never waited for `stalled`, never fell behind itself

    assert stalled.take(50, 0.05) == [] and stalled.alone  # the window no longer holds 44..
    assert _take(stalled, 400, limit=50) == list(range(44, 444))  # once each, in order
    _until_shared(stalled)
    store.append(range(444, 464))
    assert _take(stalled, 20) == list(range(444, 464))
    assert _take(quick, 20) == list(range(444, 464))
    assert store.reading() == 1
    quick.close()
    stalled.close()
    reader.close()


def test_a_worker_exactly_at_the_window_s_edge_stays_on_the_shared_reading(
    store: FakeStore,
) -> None:
    reader = _reader(store, window=10)
    lane = Lane(reader, 40, "edge")
    _until_shared(lane)
    store.append(range(41, 51))
    assert reader.take(40, 100, 1.0) is not None  # the window still holds everything after 40
    store.append([51])
    _until(lambda: not reader.covers(40))
    assert reader.take(40, 100, 0.0) is None  # 41 was dropped: after 40 is no longer held
    assert _take(lane, 11) == list(range(41, 52))
    lane.close()
    reader.close()


def test_when_the_shared_reading_fails_workers_read_alone_and_it_starts_again(
    store: FakeStore, monkeypatch: Any
) -> None:
    monkeypatch.setattr(shared_reading, "_RESTART_AFTER_S", 0.0)
    reader = _reader(store, window=100)
    lane = Lane(reader, 40, "a")
    _until_shared(lane)
    shared = store.subscriptions[-1]

    shared.failure = RuntimeError("the reading broke")
    store.append([41])
    _until(lambda: not reader.covers(40))
    store.append(range(42, 61))
    assert _take(lane, 20) == list(range(41, 61))  # alone meanwhile, nothing lost
    _until_shared(lane)
    assert store.subscriptions[-1] is not shared and not store.subscriptions[-1].stopped
    store.append(range(61, 64))
    assert _take(lane, 3) == [61, 62, 63]
    lane.close()
    reader.close()
