"""Notifications after a position, read ahead by a thread into a bounded buffer, so that the
writer takes whatever has arrived as one batch (large while catching up, small when live)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription

from projections.engine.event_source import EventSource

PAGE = 1000


class Feed:
    def __init__(self, source: EventSource, after: int, capacity: int = 8000) -> None:
        self._source = source
        self._after = after
        self._capacity = capacity
        self._items: deque[Notification] = deque()
        self._ready = threading.Condition()
        self._subscription: Subscription[ApplicationRecorder] | None = None
        self._error: BaseException | None = None
        self._done = False
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="cairn-projection-feed")
        self._thread.daemon = True
        self._thread.start()

    def _put(self, items: Sequence[Notification]) -> bool:
        with self._ready:
            while len(self._items) >= self._capacity and not self._closed:
                self._ready.wait(0.5)
            if self._closed:
                return False
            was_empty = not self._items
            self._items.extend(items)
            if was_empty:
                self._ready.notify_all()
            return True

    def _read(self) -> None:
        try:
            # Catch up with large pages: cheaper per event than the subscription's pages.
            position = self._after
            while not self._closed:
                page = self._source.recorder.select_notifications(
                    position, PAGE, inclusive_of_start=False
                )
                if page and not self._put(page):
                    return
                if len(page) < PAGE:
                    break
                position = page[-1].id
            else:
                return
            if page:
                position = page[-1].id
            # Then follow: the subscription wakes up on the store's post-commit signals.
            with self._ready:
                if self._closed:
                    return
                self._subscription = self._source.subscribe(position)
                self._subscription.__enter__()
            for n in self._subscription:
                if not self._put((n,)):
                    return
        except BaseException as error:  # handed to the writer thread
            self._error = error
        finally:
            with self._ready:
                self._done = True
                self._ready.notify_all()

    def take(
        self, limit: int, timeout: float, wake_for: frozenset[str] | None = None
    ) -> list[Notification]:
        """Up to `limit` notifications, waiting at most `timeout` for the first (of any topic:
        `wake_for` is the shared reading's, decision 0059)."""
        with self._ready:
            if not self._items and not self._done:
                self._ready.wait(timeout)
            if not self._items and self._error is not None:
                raise self._error
            was_full = len(self._items) >= self._capacity
            count = min(limit, len(self._items))
            batch = [self._items.popleft() for _ in range(count)]
            if was_full:
                self._ready.notify_all()
            return batch

    def close(self) -> None:
        with self._ready:
            self._closed = True
            subscription = self._subscription
            self._ready.notify_all()
        if subscription is not None:
            subscription.__exit__(None, None, None)
        self._thread.join(timeout=10)
