"""A synchronous, thread-safe facade over one nats-py connection on a background event loop.

The eventsourcing library is synchronous; nats-py is asyncio. One daemon thread runs an event
loop with one NATS connection; callers in any thread hand it requests and wait on a future, so
requests of many threads pipeline on the one connection and no lock is held across a round trip.

The connection reconnects forever with a capped exponential backoff. While it is down, every
request fails at once with :class:`EventStoreUnavailable` (nothing is buffered to be sent later,
so no write can land after its caller was told it failed); requests in flight when it drops fail
with :class:`EventStoreOutcomeUnknown`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import random
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import suppress
from typing import Any, TypeVar

import nats.errors
from eventsourcing.persistence import DataError
from nats.aio.client import Client as NatsConnection
from nats.aio.client import Server
from nats.aio.msg import Msg

from adapters.jetstream import headers as h
from adapters.jetstream.errors import EventStoreOutcomeUnknown, EventStoreUnavailable
from adapters.jetstream.jsapi import JetStreamCalls, status_of

logger = logging.getLogger("cairn.eventstore")

T = TypeVar("T")
Message = tuple[str, bytes, dict[str, str]]  # subject, payload, headers

MAX_BATCH = 1000  # JetStream's limit of messages in one atomic batch
ERR_BATCH_INCOMPLETE = 10176  # also what a batch gets when the server has too many in flight
_BATCH_ATTEMPTS = 6
_MAX_BACKOFF = 1.0


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


class NatsClient(JetStreamCalls):
    def __init__(
        self,
        url: str,
        *,
        name: str = "cairn",
        connect_timeout: float = 5.0,
        request_timeout: float = 5.0,
        max_inflight_batches: int = 32,
    ) -> None:
        self.url = url
        self.request_timeout = request_timeout
        self.messages_fetched = 0  # messages read by direct get (for tests and metrics)
        self._max_inflight_batches = max_inflight_batches
        self._inflight: dict[str, _Reply] = {}
        self._tokens = itertools.count()
        self._inbox = f"_INBOX.{uuid.uuid4().hex}."
        self._closed = False
        self._loop = asyncio.new_event_loop()
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
        self._batch_slots = asyncio.Semaphore(self._max_inflight_batches)
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
        await nc.subscribe(self._inbox + "*", cb=self._on_reply)
        return nc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with suppress(Exception):
            self.call(self._nc.close(), timeout=5)
        self._stop_loop()

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

    def publish_atomic(self, messages: Sequence[Message], timeout: float | None = None) -> Msg:
        """Publish messages as one JetStream atomic batch; returns the commit's reply."""
        if len(messages) > MAX_BATCH:
            raise DataError(f"an atomic batch holds at most {MAX_BATCH} messages")
        if not self._nc.is_connected:
            raise EventStoreUnavailable(
                f"NATS at {self.url} is unreachable (reconnecting); nothing was written, retry"
            )
        limit = self.request_timeout if timeout is None else timeout
        return self.call(
            self._publish_atomic(messages, limit), timeout=limit * _BATCH_ATTEMPTS, write=True
        )

    async def _publish_atomic(self, messages: Sequence[Message], limit: float) -> Msg:
        async with self._batch_slots:
            for attempt in range(_BATCH_ATTEMPTS):
                msg = await self._send_batch(messages, limit)
                if attempt + 1 < _BATCH_ATTEMPTS and f'"err_code":{ERR_BATCH_INCOMPLETE}' in (
                    msg.data.decode(errors="replace")
                ):
                    # Nothing of an incomplete batch is stored (the server may have had too
                    # many batches in flight): send it again.
                    await asyncio.sleep(0.005 * 2**attempt)
                    continue
                return msg
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_batch(self, messages: Sequence[Message], limit: float) -> Msg:
        batch_id = uuid.uuid4().hex
        last = len(messages)
        token = str(next(self._tokens))
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            for number, (subject, payload, hdrs) in enumerate(messages, start=1):
                batch_headers = dict(hdrs)
                batch_headers[h.BATCH_ID] = batch_id
                batch_headers[h.BATCH_SEQ] = str(number)
                if number < last:
                    await self._nc.publish(subject, payload, headers=batch_headers)
                else:
                    batch_headers[h.BATCH_COMMIT] = "1"
                    self._inflight[token] = _Reply(future, multi=False, write=True, count=False)
                    await self._nc.publish(
                        subject, payload, reply=self._inbox + token, headers=batch_headers
                    )
            result: Msg = await asyncio.wait_for(asyncio.wrap_future(future), limit)
            return result
        except TimeoutError:
            raise EventStoreOutcomeUnknown(
                f"no answer from NATS within {limit:.1f}s for an atomic batch; "
                "it may have been stored: retry with the same command id"
            ) from None
        except Exception as e:
            raise _map_publish_error(e) from e
        finally:
            self._inflight.pop(token, None)


def _map_publish_error(error: BaseException) -> Exception:
    if isinstance(error, EventStoreUnavailable | DataError):
        return error
    if isinstance(error, nats.errors.MaxPayloadError):
        return DataError("the event is larger than the NATS server's max_payload")
    if isinstance(error, nats.errors.BadHeaderError):
        return DataError(f"invalid NATS header: {error}")
    return EventStoreUnavailable(f"NATS publish failed ({error!r}); nothing was written, retry")
