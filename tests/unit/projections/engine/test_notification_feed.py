"""The feed: pages while catching up, then the subscription; bounded; in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, cast
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification

from projections.engine import notification_feed as feed_module
from projections.engine.event_source import EventSource
from projections.engine.notification_feed import Feed

pytestmark = pytest.mark.unit


def _n(position: int) -> Notification:
    return Notification(
        id=position, originator_id=uuid4(), originator_version=1, topic="t", state=b""
    )


class FakeSubscription:
    def __init__(self, after: int, live: list[int]) -> None:
        self.items = [_n(p) for p in live if p > after]
        self.stopped = threading.Event()

    def __enter__(self) -> FakeSubscription:
        return self

    def __exit__(self, *args: object) -> None:
        self.stopped.set()

    def __iter__(self) -> Iterator[Notification]:
        yield from self.items
        self.stopped.wait(5)  # live: nothing more until stopped


class FakeSource:
    def __init__(self, stored: list[int], live: list[int]) -> None:
        self.stored, self.live = stored, live
        self.pages: list[tuple[int, int]] = []
        self.subscribed_after: int | None = None
        self.recorder = self

    def select_notifications(
        self, start: int, limit: int, *, inclusive_of_start: bool = True
    ) -> list[Notification]:
        assert not inclusive_of_start
        self.pages.append((start, limit))
        return [_n(p) for p in self.stored if p > start][:limit]

    def subscribe(self, after: int) -> FakeSubscription:
        self.subscribed_after = after
        return FakeSubscription(after, self.live)


def _take_all(feed: Feed, count: int) -> list[int]:
    got: list[int] = []
    while len(got) < count:
        batch = feed.take(7, 2.0)
        assert batch, "the feed ran dry"
        assert len(batch) <= 7
        got += [n.id for n in batch]
    return got


def test_catches_up_in_pages_then_follows_the_subscription(monkeypatch: Any) -> None:
    monkeypatch.setattr(feed_module, "PAGE", 10)
    stored = list(range(3, 60, 2))  # not contiguous, like stream sequences
    source = FakeSource(stored, live=[*stored, 61, 64])
    feed = Feed(cast(EventSource, source), 4, capacity=12)
    assert _take_all(feed, len(stored) - 1 + 2) == [p for p in stored if p > 4] + [61, 64]
    assert feed.take(7, 0.05) == []
    feed.close()
    assert source.pages[0] == (4, 10) and source.subscribed_after == stored[-1]


def test_an_error_reaches_the_writer() -> None:
    class Broken(FakeSource):
        def select_notifications(self, *args: Any, **kwargs: Any) -> list[Notification]:
            raise ConnectionError("store down")

    feed = Feed(cast(EventSource, Broken([], [])), 0)
    with pytest.raises(ConnectionError, match="store down"):
        feed.take(10, 2.0)
    feed.close()
