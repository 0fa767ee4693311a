"""One reading of the stream for every projector worker of a process (decision 0041).

Each worker used to read every event on its own (pages from nats-server, made into
notifications), although most projectors handle few of them. A `SharedReader` follows the
stream once and keeps the latest `WINDOW` notifications; each worker goes through them with
a `Lane` at its own pace and still applies and tracks its batches in its own transactions,
so exactly-once is each worker's as before.

The reader never waits for a worker. A worker more than `WINDOW` notifications behind its head
(catching up, rebuilding, stalled by its database or parked on a poison event) no longer finds
what follows its position there: it reads alone with a `Feed` of its own, as every worker did
before, and comes back to the shared reading once its own feed has caught up with the stream
(a short batch) while the window still holds what follows its position.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Sequence

from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription

from projections.engine.event_source import EventSource
from projections.engine.notification_feed import Feed

logger = logging.getLogger("cairn.projections")

WINDOW = 10_000  # notifications kept for workers behind the reader's head
_RESTART_AFTER_S = 1.0  # the least time between two starts of the reading (after a failure)


class SharedReader:
    def __init__(self, source: EventSource, window: int | None = None) -> None:
        self.source = source
        self._window = WINDOW if window is None else window
        self._lock = threading.Lock()
        self._items: list[Notification] = []
        self._ids: list[int] = []
        self._first = 0  # index of the oldest notification kept
        # Every notification after `_base` is kept from `_first` on (while `_running`).
        self._base = 0
        self._running = False
        # Workers waiting for the next notification: each one's condition, and the topics
        # whose pages wake it (None: any page).
        self._waiters: dict[threading.Condition, frozenset[str] | None] = {}
        self._started_at = float("-inf")
        self._subscription: Subscription[ApplicationRecorder] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._waits_over = False  # the host stops: a take no longer waits for what comes
        self._reading = 0  # counts the readings started: a stopped one's late pages are dropped

    def covers(self, after: int) -> bool:
        """Whether what follows `after` is read here (else the worker reads alone)."""
        with self._lock:
            return self._running and self._base <= after

    def join(self, after: int) -> bool:
        """A worker that reads alone has caught up with the stream at `after`: whether it may
        follow the shared reading from there. Starts the reading if it is not running."""
        with self._lock:
            if self._running or self._closed:
                return self._running and self._base <= after
            if time.monotonic() - self._started_at < _RESTART_AFTER_S:
                return False
            self._started_at = time.monotonic()
        try:
            self._start()
        except Exception as error:  # the store is unreachable: the worker's own feed says so
            logger.warning("projectors: the shared reading did not start (%s)", error)
            return False
        return self.covers(after)

    def _start(self) -> None:
        head = self.source.max_position()  # from the stream's end: no worker drives it back
        with self._lock:
            if self._running or self._closed:
                return
            self._reading += 1
            reading = self._reading
            self._items, self._ids, self._first, self._base = [], [], 0, head
        # Pages are kept as they are read (`_keep_page`), on the thread that reads them (the
        # event store client's loop, decision 0058); a recorder that cannot hand them over
        # yields them to `_read` instead.
        subscription = self.source.follow(head, lambda page: self._keep_page(reading, page))
        subscription.__enter__()
        with self._lock:
            started = not (self._running or self._closed) and reading == self._reading
            if started:
                self._subscription, self._running = subscription, True
                self._thread = threading.Thread(
                    target=self._read, args=(subscription,), name="cairn-projection-reading"
                )
                self._thread.daemon = True
                self._thread.start()
        if not started:
            subscription.__exit__(None, None, None)
            return
        logger.info("projectors: one reading of the stream from %d", head)

    def _read(self, subscription: Subscription[ApplicationRecorder]) -> None:
        try:
            for notification in subscription:
                with self._lock:
                    if self._closed:
                        return
                    self._keep(notification)
                    if self._waiters:
                        self._wake((notification,))
        except Exception as error:  # workers read alone until the reading starts again
            logger.warning("projectors: the shared reading stopped (%s)", error)
        finally:
            with self._lock:
                self._running = False
                self._wake_all()
            subscription.__exit__(None, None, None)

    def _keep_page(self, reading: int, page: Sequence[Notification]) -> None:
        with self._lock:
            if self._closed or reading != self._reading:
                return  # a reading stopped since: its pages are not this one's
            for notification in page:
                self._keep(notification)
            if self._waiters:
                self._wake(page)

    def _wake(self, page: Sequence[Notification]) -> None:
        """Wake the workers waiting for a page like this one (decision 0059)."""
        topics: set[str] | None = None
        for ready, wanted in list(self._waiters.items()):
            if wanted is not None:
                if topics is None:
                    topics = {n.topic for n in page}
                if wanted.isdisjoint(topics):
                    continue
            del self._waiters[ready]
            ready.notify()

    def _wake_all(self) -> None:
        for ready in self._waiters:
            ready.notify()
        self._waiters.clear()

    def _keep(self, notification: Notification) -> None:
        self._items.append(notification)
        self._ids.append(notification.id)
        if len(self._items) - self._first > self._window:
            self._base = self._ids[self._first]  # a worker at it still finds what follows
            self._first += 1
            if self._first >= self._window:  # drop the references in one go now and then
                del self._items[: self._first], self._ids[: self._first]
                self._first = 0

    def take(
        self, after: int, limit: int, timeout: float, wake_for: frozenset[str] | None = None
    ) -> list[Notification] | None:
        """Up to `limit` notifications after `after`, waiting at most `timeout` for the first
        (with `wake_for`: for a page holding one of those topics; what came meanwhile is
        taken all the same); None when they are no longer (or not) kept here: the worker
        reads alone."""
        with self._lock:
            if not (self._running and self._base <= after):
                return None
            index = bisect_right(self._ids, after, self._first)
            if index == len(self._ids) and timeout > 0 and not self._waits_over:
                ready = threading.Condition(self._lock)
                self._waiters[ready] = wake_for
                try:
                    ready.wait(timeout)
                finally:
                    self._waiters.pop(ready, None)
                if not (self._running and self._base <= after):
                    return None
                index = bisect_right(self._ids, after, self._first)
            return self._items[index : index + limit]

    def stop_waiting(self) -> None:
        """The host stops: wake every worker waiting in `take` and wait no more. Each takes
        what is kept (maybe nothing) and stays on the shared reading, so none opens a feed of
        its own while the host stops (as a worker told to read alone would)."""
        with self._lock:
            self._waits_over = True
            self._wake_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            subscription, thread = self._subscription, self._thread
            self._wake_all()
        if subscription is not None:
            subscription.stop()
        if thread is not None:
            thread.join(timeout=10)


class Lane:
    """One worker's way through the stream (`take`, `close`: as a `Feed`): the shared reading
    while it keeps what follows the worker's position, a feed of the worker's own otherwise."""

    def __init__(self, reader: SharedReader, after: int, name: str = "") -> None:
        self._reader = reader
        self._after = after
        self._name = name
        self._own: Feed | None = None
        if not reader.covers(after):
            self._own = Feed(reader.source, after)

    @property
    def alone(self) -> bool:
        """Whether the worker reads on its own now."""
        return self._own is not None

    def take(
        self, limit: int, timeout: float, wake_for: frozenset[str] | None = None
    ) -> list[Notification]:
        """Up to `limit` notifications after the last one taken, waiting at most `timeout`
        (with `wake_for`: for one of those topics, on the shared reading)."""
        if self._own is None:
            batch = self._reader.take(self._after, limit, timeout, wake_for)
            if batch is None:
                logger.info("projector %s: reading alone from %d", self._name, self._after)
                self._own = Feed(self._reader.source, self._after)
                return []
        else:
            batch = self._own.take(limit, timeout)
        if batch:
            self._after = batch[-1].id
        if self._own is not None and len(batch) < limit and self._reader.join(self._after):
            self._own.close()  # what it read ahead is read again from the shared window
            self._own = None
            logger.info("projector %s: back on the shared reading at %d", self._name, self._after)
        return batch

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None
