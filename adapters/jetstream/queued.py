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


class StreamQueue:
    """Saves of one stream not sent yet, and how many of its batches are in flight.

    After a batch is answered, its callers usually come back with their next save at once: the
    next batch waits for them (``returning`` saves) a moment (at most the linger), so that it
    takes them along instead of leaving without them and paying the server's per-batch cost
    twice.
    """

    __slots__ = ("inflight", "linger_until", "pending", "returning", "timer")

    def __init__(self) -> None:
        self.pending: deque[QueuedSave] = deque()
        self.inflight = 0
        self.returning = 0  # callers just answered, whose next save is awaited
        self.linger_until = 0.0
        self.timer: asyncio.TimerHandle | None = None
