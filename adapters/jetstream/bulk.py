"""Bulk reads whose replies skip nats-py's per-message dispatch (taken in ``inbound``).

Two kinds of read fill a page:

- a batched direct get (``$JS.API.DIRECT.GET.<stream>`` with ``batch``), answered with one
  message per stored message, then a status: ``204`` (end of the batch, with
  ``Nats-Num-Pending``), ``404`` (nothing matched) or an error;
- a fetch from a pull consumer (``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>``, ``batch``
  and ``no_wait``), answered with exactly ``batch`` deliveries, or fewer and a ``404``
  status. The fetches of one consumer are answered in the order they were sent, so each
  delivery belongs to the oldest one not yet complete.

A page is decoded (the request's ``decode``, e.g. into notifications) on the loop too, before
its caller is woken up. Why: with the GIL, a caller decoding while the loop receives makes
each of the loop's many system calls (recv, epoll) wait for the caller's switch interval
(5 ms); measured, a replay spent most of its time so. Decoded on the loop, the caller sleeps
until its page is ready and takes the GIL once per page.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from nats.aio.client import Client as NatsConnection

from adapters.jetstream import replies
from adapters.jetstream.errors import EventStoreUnavailable, direct_get_error
from adapters.jetstream.nats_internals import inbound

T = TypeVar("T")


class Page(Generic[T]):
    """The decoded messages of one read, and how many more matched after them (0 when the
    read found no more)."""

    __slots__ = ("items", "pending")

    def __init__(self, items: list[T], pending: int) -> None:
        self.items = items
        self.pending = pending


class PageRequest(Generic[T]):
    """One read in flight; ``result()`` waits for its page."""

    __slots__ = (
        "_reads",
        "batch",
        "consumer",
        "deadline",
        "decode",
        "future",
        "messages",
        "stream",
        "token",
    )

    def __init__(
        self,
        reads: BulkReads,
        stream: str,
        timeout: float,
        decode: Callable[[list[Any]], list[T]],
        consumer: bytes | None = None,
        batch: int = 0,
    ) -> None:
        self._reads = reads
        self.stream = stream
        self.token = str(next(reads.tokens)).encode()
        self.deadline = time.monotonic() + timeout
        self.decode = decode  # called on the loop; its errors are the caller's
        self.consumer = consumer  # a fetch from this consumer; None: a direct get
        self.batch = batch
        # Filled on the loop: (headers, payload) of direct get replies; (subject, stream
        # sequence, headers, payload) of consumer deliveries.
        self.messages: list[Any] = []
        self.future: concurrent.futures.Future[Page[T]] = concurrent.futures.Future()

    def result(self) -> Page[T]:
        """The page (waits until the request's deadline: a request sent ahead of time has
        used part of its time already)."""
        try:
            return self.future.result(max(0.0, self.deadline - time.monotonic()))
        except TimeoutError:
            self.cancel()
            raise EventStoreUnavailable(
                f"no answer from NATS in time for a read of stream {self.stream}"
            ) from None
        except concurrent.futures.CancelledError:
            raise EventStoreUnavailable(f"the read of stream {self.stream} was cancelled") from None

    async def wait(self) -> Page[T]:
        """The page, awaited on the loop the reads run on (an asyncio caller's ``result``)."""
        try:
            return await asyncio.wait_for(
                asyncio.wrap_future(self.future), max(0.0, self.deadline - time.monotonic())
            )
        except TimeoutError:
            self.cancel()
            raise EventStoreUnavailable(
                f"no answer from NATS in time for a read of stream {self.stream}"
            ) from None

    def page(self, end: bytes | None, pending: int = 0) -> Page[T]:
        """On the loop: the page ended by status message ``end`` (None: a fetch answered in
        full, ``pending`` more after it), decoded, or its error."""
        if end is None:
            return Page(self.decode(self.messages), pending)
        code, description = replies.status(end)
        if self.consumer is None:
            if code == "204":
                return Page(self.decode(self.messages), replies.pending_of(end) or 0)
            if code == "404":
                return Page(self.decode(self.messages), 0)
            raise direct_get_error(self.stream, code, description)
        if code == "404":  # no_wait: no more messages now
            return Page(self.decode(self.messages), 0)
        raise direct_get_error(self.stream, code, description, "consumer read")

    def cancel(self) -> None:
        """Not needed any more: its replies still arriving are dropped."""
        self.future.cancel()
        self._reads.forget(self.token)


class BulkReads:
    """The bulk reads of one connection waiting for replies."""

    def __init__(
        self, inbox: str, loop: asyncio.AbstractEventLoop, on_fetched: Callable[[int], None]
    ) -> None:
        self.prefix = inbox.encode()  # a request's reply subject: prefix + token
        self.tokens = itertools.count()
        self._loop = loop
        self._on_fetched = on_fetched
        self._inflight: dict[bytes, PageRequest[Any]] = {}
        self._fetches: dict[bytes, deque[PageRequest[Any]]] = {}  # by consumer, oldest first
        self._tasks: set[asyncio.Task[None]] = set()

    def route(self, nc: NatsConnection, inbox_sid: int) -> None:
        """Take the bulk replies from ``nc`` (``inbox_sid``: the subscription of the inbox
        the bulk inbox lies under, so that nats-py subscribes it again after a reconnect)."""
        routes = inbound.Routes(self.prefix, inbox_sid, self.deliver, self.deliver_fetched)
        inbound.install(nc, routes)

    # ---- from any thread -------------------------------------------------------------------

    def request(
        self,
        nc: NatsConnection,
        stream: str,
        body: dict[str, Any],
        timeout: float,
        decode: Callable[[list[Any]], list[T]],
    ) -> PageRequest[T]:
        """Send a batched direct get; returns at once."""
        request = PageRequest(self, stream, timeout, decode)
        subject = f"$JS.API.DIRECT.GET.{stream}"
        self._loop.call_soon_threadsafe(self._send, nc, request, subject, json.dumps(body))
        return request

    def fetch(
        self,
        nc: NatsConnection,
        stream: str,
        consumer: str,
        batch: int,
        timeout: float,
        decode: Callable[[list[Any]], list[T]],
    ) -> PageRequest[T]:
        """Ask a pull consumer for ``batch`` messages (no waiting for new ones)."""
        request = PageRequest(self, stream, timeout, decode, consumer.encode(), batch)
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        body = json.dumps({"batch": batch, "no_wait": True})
        self._loop.call_soon_threadsafe(self._send, nc, request, subject, body)
        return request

    def forget(self, token: bytes) -> None:
        """Drop a request: the replies still arriving for it are ignored."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing arrives any more
            self._loop.call_soon_threadsafe(self._forget, token)

    # ---- on the loop -----------------------------------------------------------------------

    def _send(self, nc: NatsConnection, request: PageRequest[Any], subject: str, body: str) -> None:
        if request.future.done():  # cancelled before it was sent
            return
        self._inflight[request.token] = request
        if request.consumer is not None:
            self._fetches.setdefault(request.consumer, deque()).append(request)
        reply = (self.prefix + request.token).decode()
        task = self._loop.create_task(nc.publish(subject, body.encode(), reply=reply))
        self._tasks.add(task)

        def sent(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            error = None if task.cancelled() else task.exception()
            if error is not None and request.token in self._inflight:
                self._forget(request.token)
                _settle(request, EventStoreUnavailable(f"NATS request failed ({error!r}); retry"))

        task.add_done_callback(sent)

    def deliver(self, subject: bytes, headers: bytes | None, data: bytes) -> None:
        """A message to the bulk inbox. (Neither this nor ``deliver_fetched`` raises: an
        error in nats-py's read loop would stop it reading.)"""
        request = self._inflight.get(subject[len(self.prefix) :])
        if request is None:  # cancelled, timed out or failed: nobody waits for it
            return
        if not replies.is_status(headers):
            request.messages.append((headers or b"", data))
            return
        del self._inflight[request.token]
        if request.consumer is not None:
            queue = self._fetches.get(request.consumer)
            if queue is not None and request in queue:
                queue.remove(request)
        self._end(request, headers)

    def deliver_fetched(
        self, subject: bytes, reply: bytes, headers: bytes | None, data: bytes
    ) -> None:
        """A JetStream delivery to the inbox: for the oldest open fetch of its consumer."""
        try:
            fields = replies.ack_fields(reply)
            queue = self._fetches.get(fields[3])
            if not queue:
                return
            seq, pending = int(fields[5]), int(fields[8])
        except ValueError:  # not a delivery of ours
            return
        request = queue[0]
        request.messages.append((subject, seq, headers or b"", data))
        if len(request.messages) >= request.batch:
            queue.popleft()
            self._inflight.pop(request.token, None)
            self._end(request, None, pending)

    def _end(self, request: PageRequest[Any], end: bytes | None, pending: int = 0) -> None:
        self._on_fetched(len(request.messages))
        try:
            page = request.page(end, pending)
        except Exception as error:  # never into nats-py's read loop: it would stop reading
            _settle(request, error)
        else:
            _settle(request, page)

    def _forget(self, token: bytes) -> None:
        request = self._inflight.pop(token, None)
        if request is None or request.consumer is None:
            return
        # The consumer still sends what this fetch asked for: the fetches after it could not
        # tell which deliveries are theirs, so the consumer's reads all end here.
        for other in self._fetches.pop(request.consumer, deque()):
            if self._inflight.pop(other.token, None) is not None:
                _settle(other, EventStoreUnavailable("an earlier read of its consumer ended"))

    def fail_all(self, error: Exception) -> None:
        """The connection was lost or closed: no reply will come."""
        requests = list(self._inflight.values())
        self._inflight.clear()
        self._fetches.clear()
        for request in requests:
            _settle(request, error)


def _settle(request: PageRequest[Any], outcome: Page[Any] | Exception) -> None:
    try:
        if isinstance(outcome, Exception):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)
    except concurrent.futures.InvalidStateError:  # cancelled by its caller meanwhile
        pass
