"""What group commit (``appends``) keeps per save waiting to be appended and per stream."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import deque
from collections.abc import Sequence
from typing import Any

from adapters.jetstream.framing import Frame


class QueuedSave:
    """One save waiting to be appended: its messages, what it checks, its caller's future, and
    the stream its caller appends to next (its own, unless told)."""

    __slots__ = ("frames", "future", "keys", "next_stream", "stream")

    def __init__(
        self,
        stream: str,
        frames: Sequence[Frame],
        keys: frozenset[str],
        future: concurrent.futures.Future[dict[str, Any]],
        next_stream: str | None = None,
    ) -> None:
        self.stream = stream
        self.frames = frames
        self.keys = keys
        self.future = future
        self.next_stream = next_stream or stream

    def resolve(self, ack: dict[str, Any]) -> None:
        if not self.future.done():
            self.future.set_result(ack)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


# How much each new interval between two saves moves a stream's mean interval.
ARRIVAL_WEIGHT = 0.1
# The longest wait for company there is (seconds); a longer gap between two saves counts as
# this long, and a new stream starts at it, so a quiet stream's mean is never below a wait.
LONGEST_WAIT = 1.0


class StreamQueue:
    """Saves of one stream not sent yet, and how many of its batches are in flight.

    After a batch is answered, its callers usually come back with their next save at once: the
    next batch waits for them (``returning`` saves) a moment (at most the linger), so that it
    takes them along instead of leaving without them and paying the server's per-batch cost
    twice. A group that must go as an atomic batch waits a moment for other saves when they
    come faster than that moment (``interval``, decision 0072).
    """

    __slots__ = (
        "company_timer",
        "company_waited",
        "inflight",
        "interval",
        "last_arrival",
        "linger_until",
        "pending",
        "returning",
        "timer",
    )

    def __init__(self) -> None:
        self.pending: deque[QueuedSave] = deque()
        self.inflight = 0
        self.returning = 0  # callers just answered, whose next save is awaited
        self.linger_until = 0.0
        self.timer: asyncio.TimerHandle | None = None
        # The mean time between two saves arriving (seconds, a moving average).
        self.interval = LONGEST_WAIT
        self.last_arrival: float | None = None
        self.company_timer: asyncio.TimerHandle | None = None
        self.company_waited = False  # the next group leaves now, whatever came

    def arrived(self, now: float) -> None:
        """A save arrived at `now` (the loop's clock)."""
        if self.last_arrival is not None:
            since = min(now - self.last_arrival, LONGEST_WAIT)
            self.interval += ARRIVAL_WEIGHT * (since - self.interval)
        self.last_arrival = now
