"""Group commit: the appends of a :class:`~adapters.jetstream.client.NatsClient`.

Appends (:meth:`GroupCommit.append`) come framed (``framing``) and are written as one buffer per
JetStream publish (``batches``). With group commit on (the default), saves that arrive while
earlier ones are being stored are combined into one group (at most 1,000 messages, only saves
on disjoint aggregates, command ids and tracking subjects), sent as one atomic batch: each save
is still entirely inside one atomic batch, so all of it is stored or none of it; if the server
refuses the combined batch, nothing of it was stored and each save is sent again, so that it
gets its own answer. A group of a few saves of one message each goes as single messages
instead, each with its own check and answer (``grouped``, decision 0053); a group that must go
as an atomic batch waits a moment for more saves while they arrive faster than that (decision
0072). Why: with ``sync_interval: always`` a single nats-server spends most of an atomic
batch's time on fixed per-batch work (staging store, fsyncs), so fewer, larger batches store
more events per second.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import deque
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import DataError
from nats.aio.client import Client as NatsConnection

from adapters.jetstream import framing, grouped
from adapters.jetstream.batches import BATCH_ATTEMPTS, MAX_BATCH, BatchPublisher
from adapters.jetstream.errors import EventStoreOutcomeUnknown, EventStoreUnavailable
from adapters.jetstream.framing import Frame
from adapters.jetstream.queued import QueuedSave, StreamQueue

_GROUP_SCAN = 64  # queued saves looked at when filling a group


class GroupCommit:
    """Queues the saves of each stream and sends them in batches (through ``publisher``), at most
    ``max_inflight`` batches of a stream at once, at most ``max_group`` messages combined (0:
    each save alone), waiting up to ``linger`` seconds for callers just answered. A group of at
    most ``max_singles`` saves of one message each is sent as that many single messages; any
    other group waits up to ``batch_linger`` seconds for company while saves arrive faster."""

    def __init__(
        self,
        nc: NatsConnection,
        loop: asyncio.AbstractEventLoop,
        publisher: BatchPublisher,
        *,
        url: str,
        request_timeout: float,
        max_inflight: int,
        max_group: int,
        linger: float,
        max_singles: int = 0,
        batch_linger: float = 0.0,
    ) -> None:
        self.url = url
        self.request_timeout = request_timeout
        self.closed = False
        self._nc = nc
        self._loop = loop
        self._publisher = publisher
        self._max_inflight = max_inflight
        self._max_group = max_group
        self._linger_for = linger
        self._max_singles = max_singles
        self._batch_linger = batch_linger
        self._queues: dict[str, StreamQueue] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def signal_stored(self, stream: str, subject: str) -> None:
        """After each batch appended to ``stream`` is acknowledged, announce it on ``subject``
        (decision 0005)."""
        self._publisher.signal_stored(stream, subject)

    def close(self) -> None:
        """Refuse appends from now on (the queued ones fail with ``fail_queued``)."""
        self.closed = True
        self._publisher.close()

    async def settle(self, within: float) -> None:
        """Let appends in flight hand their callers their outcome (waits at most ``within``);
        a group waiting for company leaves now."""
        for queue in self._queues.values():
            if queue.company_timer is not None:
                queue.company_timer.cancel()
                self._company_over(queue)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)

    def append(
        self,
        stream: str,
        frames: Sequence[Frame],
        keys: frozenset[str],
        *,
        next_stream: str | None = None,
    ) -> dict[str, Any]:
        """Store one save's messages atomically (a single message, or one atomic batch); waits
        for JetStream's answer: the ack of this save (``seq``: its last message's sequence) or
        the error that refused it (then nothing of it was stored).

        ``keys`` name what the save checks (aggregates, command id, tracking subject): saves
        sharing a key are never combined into one batch. ``next_stream``: where the caller
        appends next once answered, when not to ``stream`` (a new aggregate's record is
        followed by its events): that stream's next batch waits for it (the linger), not this
        one's.
        """
        if not frames:
            raise ValueError("nothing to append")
        if len(frames) > MAX_BATCH:
            raise DataError(f"an atomic batch holds at most {MAX_BATCH} messages")
        max_payload = self._nc.max_payload
        size_limit = max_payload - framing.BATCH_OVERHEAD
        for _, headers, payload in frames:
            if len(headers) + len(payload) > size_limit:
                raise DataError("the event is larger than the NATS server's max_payload")
        if self.closed:
            raise EventStoreUnavailable("the event store connection is closed")
        if not self._nc.is_connected:
            raise EventStoreUnavailable(
                f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
            )
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        save = QueuedSave(stream, frames, keys, future, next_stream)
        self._loop.call_soon_threadsafe(self._enqueue, save)
        # The loop answers within its own timeouts (each round trip, a few retries of an
        # incomplete batch, a resend alone after a refused group); this is a backstop.
        limit = self.request_timeout * (BATCH_ATTEMPTS + 2) + 1
        try:
            return future.result(limit)
        except TimeoutError:
            self._loop.call_soon_threadsafe(future.cancel)  # not sent later, if still queued
            raise EventStoreOutcomeUnknown(
                f"no answer from NATS within {limit:.1f}s for an append; it may have been "
                "stored: retry with the same command id"
            ) from None

    def _enqueue(self, save: QueuedSave) -> None:
        if self.closed or not self._nc.is_connected:
            save.fail(
                EventStoreUnavailable(
                    f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
                )
            )
            return
        queue = self._queues.get(save.stream)
        if queue is None:
            queue = self._queues[save.stream] = StreamQueue()
        queue.pending.append(save)
        queue.arrived(self._loop.time())
        if queue.returning > 0:
            queue.returning -= 1
            if queue.returning == 0 and queue.timer is not None:
                queue.timer.cancel()
                queue.timer = None
        self._pump(queue)

    def _pump(self, queue: StreamQueue) -> None:
        while queue.pending and queue.inflight < self._max_inflight:
            if queue.inflight > 0 and not self._full(queue):
                return  # sent when the batch in flight is answered, with whatever came by then
            if queue.returning > 0 and self._linger(queue):
                return
            if self._batch_linger > 0 and self._awaits_company(queue):
                return
            group = self._take_group(queue.pending)
            if not group:
                return
            self._company_left(queue)
            queue.inflight += 1
            task = self._loop.create_task(self._commit(queue, group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _awaits_company(self, queue: StreamQueue) -> bool:
        """True while a group that will be an atomic batch waits for other saves to share it:
        only when saves arrive faster than the wait (at a low rate it would only add its
        time), and at most ``batch_linger`` (decision 0072)."""
        if queue.company_waited or self._full(queue):
            return False
        if queue.company_timer is not None:
            return True
        if queue.interval >= self._batch_linger:
            return False
        if not any(len(save.frames) > 1 for save in queue.pending):
            return False  # single messages: no staging to share (decision 0053)
        queue.company_timer = self._loop.call_later(self._batch_linger, self._company_over, queue)
        return True

    def _company_over(self, queue: StreamQueue) -> None:
        queue.company_timer = None
        queue.company_waited = True
        self._pump(queue)

    @staticmethod
    def _company_left(queue: StreamQueue) -> None:
        queue.company_waited = False
        if queue.company_timer is not None:
            queue.company_timer.cancel()
            queue.company_timer = None

    def _full(self, queue: StreamQueue) -> bool:
        """Whether the waiting saves fill a whole batch (always, without group commit)."""
        frames = 0
        for save in queue.pending:
            frames += len(save.frames)
            if frames >= self._max_group:
                return True
        return frames >= self._max_group

    def _linger(self, queue: StreamQueue) -> bool:
        """True to wait a little longer for the saves of callers that were just answered."""
        now = self._loop.time()
        if now >= queue.linger_until:
            queue.returning = 0
            return False
        if self._full(queue):
            return False
        if queue.timer is None:
            queue.timer = self._loop.call_at(queue.linger_until, self._linger_over, queue)
        return True

    def _linger_over(self, queue: StreamQueue) -> None:
        queue.timer = None
        queue.returning = 0
        self._pump(queue)

    def _take_group(self, pending: deque[QueuedSave]) -> list[QueuedSave]:
        """The oldest waiting save, with later ones that fit beside it (size, disjoint keys)."""
        group: list[QueuedSave] = []
        while pending and not group:
            save = pending.popleft()
            if not save.future.done():  # done: its caller gave up waiting
                group.append(save)
        if not group:
            return group
        size = len(group[0].frames)
        keys = set(group[0].keys)
        skipped: list[QueuedSave] = []
        scanned = 0
        while pending and scanned < _GROUP_SCAN and size < self._max_group:
            save = pending.popleft()
            scanned += 1
            if save.future.done():
                continue
            if size + len(save.frames) <= self._max_group and keys.isdisjoint(save.keys):
                group.append(save)
                size += len(save.frames)
                keys.update(save.keys)
            else:
                skipped.append(save)
        pending.extendleft(reversed(skipped))
        return group

    def fail_queued(self, error: Exception) -> None:
        """Saves not sent yet fail: nothing of them was written."""
        for queue in self._queues.values():
            while queue.pending:
                queue.pending.popleft().fail(error)

    async def _commit(self, queue: StreamQueue, group: list[QueuedSave]) -> None:
        try:
            await grouped.send(self._publisher, group, self._max_singles)
        except Exception as e:
            for save in group:
                save.fail(e)
        finally:
            queue.inflight -= 1
            if self._linger_for > 0:
                self._expect_back(queue, group)
            self._pump(queue)

    def _expect_back(self, queue: StreamQueue, group: list[QueuedSave]) -> None:
        """The callers just answered come back with their next saves: the next batch of the
        stream each appends to next waits a moment for them."""
        until = self._loop.time() + self._linger_for
        staying, moving = 0, dict[str, int]()
        for save in group:
            if save.next_stream == save.stream:
                staying += 1
            else:
                moving[save.next_stream] = moving.get(save.next_stream, 0) + 1
        if staying and queue.inflight == 0:
            queue.returning, queue.linger_until = staying, until
        for stream, count in moving.items():
            other = self._queues.get(stream) or self._queues.setdefault(stream, StreamQueue())
            # At least these: not added to what that stream's own answers expect back (those
            # callers may be these, gone to this stream in between).
            other.returning = max(other.returning, count)
            other.linger_until = max(other.linger_until, until)
