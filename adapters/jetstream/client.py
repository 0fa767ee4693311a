"""A synchronous, thread-safe facade over one nats-py connection on a background event loop.

The eventsourcing library is synchronous; nats-py is asyncio. One daemon thread runs an event
loop with one NATS connection; callers in any thread hand it requests and wait on a future, so
requests of many threads pipeline on the one connection and no lock is held across a round trip.

The connection reconnects forever with a capped exponential backoff. While it is down, every
request fails at once with :class:`EventStoreUnavailable` (nothing is buffered to be sent later,
so no write can land after its caller was told it failed); requests in flight when it drops fail
with :class:`EventStoreOutcomeUnknown`.

Appends (:meth:`NatsClient.append`) are framed here (``framing``) and written as one buffer per
JetStream publish. With group commit on (the default), saves that arrive while earlier ones are
being stored are combined into one atomic batch (at most 1,000 messages, only saves on disjoint
aggregates, command ids and tracking subjects): each save is still entirely inside one atomic
batch, so all of it is stored or none of it; if the server refuses the combined batch, nothing
of it was stored and each save is sent again alone, so that it gets its own answer. Why: with
``sync_interval: always`` a single nats-server spends most of an atomic batch's time on fixed
per-batch work (staging store, fsyncs), so fewer, larger batches store more events per second.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import suppress
from typing import Any, TypeVar

import nats.errors
from eventsourcing.persistence import DataError
from nats.aio.client import Client as NatsConnection
from nats.aio.client import Server
from nats.aio.msg import Msg

from adapters.jetstream import framing
from adapters.jetstream import headers as h
from adapters.jetstream.bulk import BulkReads, PageRequest
from adapters.jetstream.errors import EventStoreOutcomeUnknown, EventStoreUnavailable
from adapters.jetstream.framing import Frame
from adapters.jetstream.jsapi import JetStreamCalls, status_of

logger = logging.getLogger("cairn.eventstore")

T = TypeVar("T")

MAX_BATCH = 1000  # JetStream's limit of messages in one atomic batch
ERR_BATCH_INCOMPLETE = 10176  # also what a batch gets when the server has too many in flight
ERR_TOO_MANY_INFLIGHT = 10210
_RETRY_BATCH = (b'"err_code":%d' % ERR_BATCH_INCOMPLETE, b'"err_code":%d' % ERR_TOO_MANY_INFLIGHT)
_BATCH_ATTEMPTS = 6
_MAX_BACKOFF = 1.0
_GROUP_SCAN = 64  # queued saves looked at when filling a group


class _Reply:
    __slots__ = ("count", "future", "msgs", "multi", "write")

    def __init__(
        self, future: concurrent.futures.Future[Any], *, multi: bool, write: bool, count: bool
    ) -> None:
        self.future = future
        self.multi = multi
        self.write = write
        self.count = count
        self.msgs: list[Msg] = []


class _Save:
    """One save waiting to be appended: its messages, what it checks, its caller's future."""

    __slots__ = ("frames", "future", "keys", "stream")

    def __init__(
        self,
        stream: str,
        frames: Sequence[Frame],
        keys: frozenset[str],
        future: concurrent.futures.Future[dict[str, Any]],
    ) -> None:
        self.stream = stream
        self.frames = frames
        self.keys = keys
        self.future = future

    def resolve(self, ack: dict[str, Any]) -> None:
        if not self.future.done():
            self.future.set_result(ack)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class _StreamQueue:
    """Saves of one stream not sent yet, and how many of its batches are in flight.

    After a batch is answered, its callers usually come back with their next save at once: the
    next batch waits for them (``returning`` saves) a moment (at most the linger), so that it
    takes them along instead of leaving without them and paying the server's per-batch cost
    twice.
    """

    __slots__ = ("inflight", "linger_until", "pending", "returning", "timer")

    def __init__(self) -> None:
        self.pending: deque[_Save] = deque()
        self.inflight = 0
        self.returning = 0  # callers just answered, whose next save is awaited
        self.linger_until = 0.0
        self.timer: asyncio.TimerHandle | None = None


class NatsClient(JetStreamCalls):
    def __init__(
        self,
        url: str,
        *,
        name: str = "cairn",
        connect_timeout: float = 5.0,
        request_timeout: float = 5.0,
        group_commit: bool = True,
        max_inflight_batches: int = 32,
        max_inflight_groups: int = 3,
        group_linger: float = 0.005,
    ) -> None:
        self.url = url
        self.request_timeout = request_timeout
        self.messages_fetched = 0  # messages read by direct get (for tests and metrics)
        self.group_commit = group_commit
        # Batches in flight per stream: without group commit one per save (the server takes
        # at most 50 per stream). With it, the saves arriving meanwhile are combined into the
        # next batch, and a further batch is sent before the last one is answered only when
        # it is full (measured on one server with fsync per batch: each batch costs the server
        # about as much as 100 messages, so small ones in flight only waste it; full ones
        # keep it busy while the client prepares the next).
        self._max_inflight = max_inflight_groups if group_commit else max_inflight_batches
        self._max_group = MAX_BATCH if group_commit else 0
        self._linger_for = group_linger if group_commit else 0.0
        self._queues: dict[str, _StreamQueue] = {}
        self._signals: dict[str, bytes] = {}  # stream -> subject announcing its stored batches
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: dict[str, _Reply] = {}
        self._tokens = itertools.count()
        self._inbox = f"_INBOX.{uuid.uuid4().hex}."
        self._closed = False
        self._loop = asyncio.new_event_loop()
        # Bulk reads (batched direct gets, consumer fetches), answered raw under the inbox.
        self._pages = BulkReads(self._inbox + "b", self._loop, self._count_fetched)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"cairn-nats-{name}", daemon=True
        )
        self._thread.start()
        try:
            self._nc: NatsConnection = self.call(
                self._connect(name, connect_timeout), timeout=connect_timeout + 5
            )
        except BaseException:
            self._stop_loop()
            raise

    # ---- lifecycle -------------------------------------------------------------------------

    async def _connect(self, name: str, connect_within: float) -> NatsConnection:
        nc = NatsConnection()
        servers = [s.strip() for s in self.url.split(",") if s.strip()]
        try:
            await asyncio.wait_for(
                nc.connect(
                    servers=servers,
                    name=name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=max(1, int(connect_within)),
                    pending_size=0,  # never buffer while disconnected: fail fast instead
                    ping_interval=5,
                    max_outstanding_pings=2,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    error_cb=self._on_error,
                    reconnect_to_server_handler=self._next_server,
                ),
                connect_within,
            )
        except (TimeoutError, OSError, nats.errors.Error) as e:
            with suppress(Exception):
                await nc.close()
            raise EventStoreUnavailable(
                f"cannot connect to NATS at {self.url} ({e!r}); retry when it is reachable"
            ) from e
        inbox = await nc.subscribe(self._inbox + "*", cb=self._on_reply)
        self._pages.route(nc, inbox._id)  # nats-py 2.x: a subscription's sid (test_inbound.py)
        return nc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with suppress(Exception):
            self.call(self._close(), timeout=5)
        self._stop_loop()

    async def _close(self) -> None:
        self._fail_queued(EventStoreUnavailable("the event store connection is closed"))
        self._fail_inflight()
        if self._tasks:  # let appends in flight hand their callers the failure
            await asyncio.wait(set(self._tasks), timeout=1)
        await self._nc.close()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    @property
    def is_connected(self) -> bool:
        return bool(self._nc.is_connected)

    @property
    def nc(self) -> NatsConnection:
        return self._nc

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @staticmethod
    def _next_server(servers: list[Server], info: dict[str, Any]) -> tuple[Server | None, float]:
        server = min(servers, key=lambda s: s.reconnects) if servers else None
        attempts = server.reconnects if server is not None else 0
        delay = min(_MAX_BACKOFF, 0.05 * 2 ** min(attempts, 10))
        return server, delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter only

    async def _on_disconnected(self) -> None:
        if self._closed:
            return
        logger.warning("NATS connection to %s lost; reconnecting", self.url)
        self._fail_queued(
            EventStoreUnavailable("the NATS connection was lost; nothing was written, retry")
        )
        self._fail_inflight()

    def _fail_inflight(self) -> None:
        self._pages.fail_all(
            EventStoreUnavailable("the NATS connection was lost before the answer arrived; retry")
        )
        inflight, self._inflight = self._inflight, {}
        for reply in inflight.values():
            if not reply.future.done():
                cls = EventStoreOutcomeUnknown if reply.write else EventStoreUnavailable
                reply.future.set_exception(
                    cls("the NATS connection was lost before the answer arrived; retry")
                )

    async def _on_reconnected(self) -> None:
        logger.warning("NATS connection to %s re-established", self.url)

    async def _on_error(self, error: Exception) -> None:
        logger.debug("NATS client error: %r", error)

    # ---- calls from any thread -------------------------------------------------------------

    def call(
        self, coro: Coroutine[Any, Any, T], timeout: float | None = None, *, write: bool = False
    ) -> T:
        """Run a coroutine on the connection's loop and wait for its result."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("NatsClient.call() must not be used from its own event loop")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        limit = self.request_timeout + 1 if timeout is None else timeout
        try:
            return future.result(limit)
        except TimeoutError:
            future.cancel()
            cls = EventStoreOutcomeUnknown if write else EventStoreUnavailable
            raise cls(f"NATS did not answer within {limit:.1f}s") from None

    def request(
        self,
        subject: str,
        payload: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        write: bool = False,
        timeout: float | None = None,
    ) -> Msg:
        """Send a request and wait for its (first) reply."""
        result: Msg = self._request(
            subject, payload, headers, write=write, multi=False, count=False
        )(timeout)
        return result

    def _request(
        self,
        subject: str,
        payload: bytes,
        headers: Mapping[str, str] | None,
        *,
        write: bool,
        multi: bool,
        count: bool,
    ) -> Callable[[float | None], Any]:
        if self._closed:
            raise EventStoreUnavailable("the event store connection is closed")
        if not self._nc.is_connected:
            raise EventStoreUnavailable(
                f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
            )
        token = str(next(self._tokens))
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        reply = _Reply(future, multi=multi, write=write, count=count)
        hdrs = dict(headers) if headers is not None else None
        self._loop.call_soon_threadsafe(self._send, token, subject, payload, hdrs, reply)

        def wait(timeout: float | None) -> Any:
            limit = self.request_timeout if timeout is None else timeout
            try:
                return future.result(limit)
            except TimeoutError:
                self._loop.call_soon_threadsafe(self._inflight.pop, token, None)
                cls = EventStoreOutcomeUnknown if write else EventStoreUnavailable
                raise cls(f"no answer from NATS within {limit:.1f}s for {subject}") from None

        return wait

    def request_page(
        self, stream: str, body: dict[str, Any], decode: Callable[[list[Any]], list[T]]
    ) -> PageRequest[T]:
        """Send a batched direct get (``body``: ``seq``, ``batch``, ``next_by_subj``) and return
        at once; ``.result()`` waits for its page, decoded by ``decode`` (``bulk``)."""
        self._check_open()
        return self._pages.request(self._nc, stream, body, self.request_timeout, decode)

    def fetch_page(
        self, stream: str, consumer: str, batch: int, decode: Callable[[list[Any]], list[T]]
    ) -> PageRequest[T]:
        """Ask a pull consumer for up to ``batch`` messages stored now, like ``request_page``."""
        self._check_open()
        return self._pages.fetch(self._nc, stream, consumer, batch, self.request_timeout, decode)

    def api_nowait(self, subject: str) -> None:
        """Send a JetStream API request without a body and without waiting for its answer
        (cleaning up, where a failure changes nothing)."""
        self._request(f"$JS.API.{subject}", b"", None, write=False, multi=False, count=False)

    def _check_open(self) -> None:
        if self._closed:
            raise EventStoreUnavailable("the event store connection is closed")
        if not self._nc.is_connected:
            raise EventStoreUnavailable(f"NATS at {self.url} is unreachable (reconnecting); retry")

    def _count_fetched(self, count: int) -> None:
        self.messages_fetched += count  # on the loop, like the count in _on_reply

    def _send(
        self, token: str, subject: str, payload: bytes, hdrs: dict[str, str] | None, reply: _Reply
    ) -> None:
        self._inflight[token] = reply
        task = self._loop.create_task(
            self._nc.publish(subject, payload, reply=self._inbox + token, headers=hdrs)
        )

        def sent(task: asyncio.Task[None]) -> None:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                self._inflight.pop(token, None)
                if not reply.future.done():
                    reply.future.set_exception(_map_publish_error(error))

        task.add_done_callback(sent)

    async def _on_reply(self, msg: Msg) -> None:
        token = msg.subject[len(self._inbox) :]
        reply = self._inflight.get(token)
        if reply is None:
            return
        if reply.multi and status_of(msg) is None:
            reply.msgs.append(msg)
            return
        del self._inflight[token]
        if reply.count:
            self.messages_fetched += len(reply.msgs) if reply.multi else int(status_of(msg) is None)
        if not reply.future.done():
            reply.future.set_result((reply.msgs, msg) if reply.multi else msg)

    # ---- appends ---------------------------------------------------------------------------

    def append(self, stream: str, frames: Sequence[Frame], keys: frozenset[str]) -> dict[str, Any]:
        """Store one save's messages atomically (a single message, or one atomic batch); waits
        for JetStream's answer: the ack of this save (``seq``: its last message's sequence) or
        the error that refused it (then nothing of it was stored).

        ``keys`` name what the save checks (aggregates, command id, tracking subject): saves
        sharing a key are never combined into one batch.
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
        if self._closed:
            raise EventStoreUnavailable("the event store connection is closed")
        if not self._nc.is_connected:
            raise EventStoreUnavailable(
                f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
            )
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        save = _Save(stream, frames, keys, future)
        self._loop.call_soon_threadsafe(self._enqueue, save)
        # The loop answers within its own timeouts (each round trip, a few retries of an
        # incomplete batch, a resend alone after a refused group); this is a backstop.
        limit = self.request_timeout * (_BATCH_ATTEMPTS + 2) + 1
        try:
            return future.result(limit)
        except TimeoutError:
            self._loop.call_soon_threadsafe(future.cancel)  # not sent later, if still queued
            raise EventStoreOutcomeUnknown(
                f"no answer from NATS within {limit:.1f}s for an append; it may have been "
                "stored: retry with the same command id"
            ) from None

    def signal_stored(self, stream: str, subject: str) -> None:
        """After each batch appended to ``stream`` is acknowledged, announce it on ``subject``
        (its last sequence as the payload): subscriptions wake up on it (decision 0005)."""
        self._signals[stream] = subject.encode()

    async def _announce(self, stream: str, ack: dict[str, Any]) -> None:
        subject = self._signals.get(stream)
        if subject is None or ack.get("error") or "seq" not in ack:
            return
        payload = str(ack["seq"]).encode()
        # Best effort: a lost signal only delays subscribers until their next poll.
        with suppress(Exception):
            await _write(self._nc, b"PUB %s %d\r\n%s\r\n" % (subject, len(payload), payload))

    def _enqueue(self, save: _Save) -> None:
        if self._closed or not self._nc.is_connected:
            save.fail(
                EventStoreUnavailable(
                    f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
                )
            )
            return
        queue = self._queues.get(save.stream)
        if queue is None:
            queue = self._queues[save.stream] = _StreamQueue()
        queue.pending.append(save)
        if queue.returning > 0:
            queue.returning -= 1
            if queue.returning == 0 and queue.timer is not None:
                queue.timer.cancel()
                queue.timer = None
        self._pump(queue)

    def _pump(self, queue: _StreamQueue) -> None:
        while queue.pending and queue.inflight < self._max_inflight:
            if queue.inflight > 0 and not self._full(queue):
                return  # sent when the batch in flight is answered, with whatever came by then
            if queue.returning > 0 and self._linger(queue):
                return
            group = self._take_group(queue.pending)
            if not group:
                return
            queue.inflight += 1
            task = self._loop.create_task(self._commit(queue, group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _full(self, queue: _StreamQueue) -> bool:
        """Whether the waiting saves fill a whole batch (always, without group commit)."""
        frames = 0
        for save in queue.pending:
            frames += len(save.frames)
            if frames >= self._max_group:
                return True
        return frames >= self._max_group

    def _linger(self, queue: _StreamQueue) -> bool:
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

    def _linger_over(self, queue: _StreamQueue) -> None:
        queue.timer = None
        queue.returning = 0
        self._pump(queue)

    def _take_group(self, pending: deque[_Save]) -> list[_Save]:
        """The oldest waiting save, with later ones that fit beside it (size, disjoint keys)."""
        group: list[_Save] = []
        while pending and not group:
            save = pending.popleft()
            if not save.future.done():  # done: its caller gave up waiting
                group.append(save)
        if not group:
            return group
        size = len(group[0].frames)
        keys = set(group[0].keys)
        skipped: list[_Save] = []
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

    def _fail_queued(self, error: Exception) -> None:
        """Saves not sent yet fail: nothing of them was written."""
        for queue in self._queues.values():
            while queue.pending:
                queue.pending.popleft().fail(error)

    async def _commit(self, queue: _StreamQueue, group: list[_Save]) -> None:
        try:
            if len(group) == 1:
                ack = _ack_of(await self._send_frames(group[0].frames))
                group[0].resolve(ack)
                await self._announce(group[0].stream, ack)
            else:
                await self._commit_group(group)
        except Exception as e:
            for save in group:
                save.fail(e)
        finally:
            queue.inflight -= 1
            if self._linger_for > 0 and queue.inflight == 0:
                queue.returning = len(group)
                queue.linger_until = self._loop.time() + self._linger_for
            self._pump(queue)

    async def _commit_group(self, group: list[_Save]) -> None:
        frames = [frame for save in group for frame in save.frames]
        ack = _ack_of(await self._send_frames(frames))
        if ack.get("error"):
            # One save's check (or id) refused the combined batch, so nothing of it was
            # stored: send each save alone, so that each gets its own answer.
            await asyncio.gather(*(self._commit_alone(save) for save in group))
            return
        count = ack.get("count", len(frames))
        if count != len(frames):
            raise EventStoreOutcomeUnknown(
                f"JetStream acknowledged {count} messages of an atomic batch of {len(frames)}"
            )
        seq = int(ack["seq"]) - len(frames)
        for save in group:
            seq += len(save.frames)
            save.resolve({"stream": ack.get("stream"), "seq": seq})
        await self._announce(group[0].stream, ack)

    async def _commit_alone(self, save: _Save) -> None:
        try:
            ack = _ack_of(await self._send_frames(save.frames))
            save.resolve(ack)
            await self._announce(save.stream, ack)
        except Exception as e:
            save.fail(e)

    async def _send_frames(self, frames: Sequence[Frame]) -> Msg:
        """One message, or one atomic batch (sent again while the server reports it incomplete:
        nothing of an incomplete batch is stored); returns JetStream's reply."""
        if len(frames) == 1:
            return await self._round_trip(lambda reply: framing.single(frames[0], reply))
        for attempt in range(_BATCH_ATTEMPTS):
            batch_id = uuid.uuid4().hex
            msg = await self._round_trip(
                lambda reply: framing.atomic_batch(frames, batch_id, reply)  # noqa: B023
            )
            if attempt + 1 < _BATCH_ATTEMPTS and any(code in msg.data for code in _RETRY_BATCH):
                await asyncio.sleep(0.005 * 2**attempt)
                continue
            return msg
        raise AssertionError("unreachable")  # pragma: no cover

    async def _round_trip(self, build: Callable[[bytes], bytes]) -> Msg:
        nc = self._nc
        if self._closed or not nc.is_connected:
            raise EventStoreUnavailable(
                f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
            )
        token = str(next(self._tokens))
        data = build((self._inbox + token).encode())
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._inflight[token] = _Reply(future, multi=False, write=True, count=False)
        try:
            await _write(nc, data)
            result: Msg = await asyncio.wait_for(asyncio.wrap_future(future), self.request_timeout)
            return result
        except TimeoutError:
            raise EventStoreOutcomeUnknown(
                f"no answer from NATS within {self.request_timeout:.1f}s for an append; "
                "it may have been stored: retry with the same command id"
            ) from None
        except (EventStoreUnavailable, DataError):
            raise
        except Exception as e:
            raise _map_publish_error(e) from e
        finally:
            self._inflight.pop(token, None)


async def _write(nc: NatsConnection, data: bytes) -> None:
    """Queue protocol bytes on nats-py's connection and kick its flusher, as its own
    ``publish()`` does after encoding a message (private API of nats-py 2.x, checked by
    tests/unit/adapters/jetstream/test_framing.py)."""
    await nc._send_command(data)
    if nc._flush_queue is not None and nc._flush_queue.empty():
        await nc._flush_pending()


def _ack_of(reply: Msg) -> dict[str, Any]:
    if reply.headers and reply.headers.get(h.STATUS) == "503":
        raise EventStoreUnavailable(
            "no JetStream stream stores these subjects (no responders); nothing was written"
        )
    ack: dict[str, Any] = json.loads(reply.data)
    if ack.get("duplicate"):
        # A single message whose Nats-Msg-Id was seen: nothing was stored now. (Appends send
        # message ids only in atomic batches, which JetStream refuses instead: 10201.)
        return {"error": {"code": 400, "err_code": 10201, "description": "duplicate message id"}}
    return ack


def _map_publish_error(error: BaseException) -> Exception:
    if isinstance(error, EventStoreUnavailable | DataError):
        return error
    if isinstance(error, nats.errors.MaxPayloadError):
        return DataError("the event is larger than the NATS server's max_payload")
    if isinstance(error, nats.errors.BadHeaderError):
        return DataError(f"invalid NATS header: {error}")
    return EventStoreUnavailable(f"NATS publish failed ({error!r}); nothing was written, retry")
