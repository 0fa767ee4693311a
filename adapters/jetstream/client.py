"""A synchronous, thread-safe facade over one nats-py connection on a background event loop.

The eventsourcing library is synchronous; nats-py is asyncio. One daemon thread runs an event
loop with one NATS connection; callers in any thread hand it requests and wait on a future, so
requests of many threads pipeline on the one connection and no lock is held across a round trip.

The client owns its parts, which share the connection and its loop: ``requests`` (JetStream
API, single direct gets), ``appends`` (group commit, :class:`~adapters.jetstream.appends.
GroupCommit`) and the bulk reads (``request_page``, ``fetch_page``: ``bulk``). Replies to the
first two come to one inbox (``inbox``); the bulk reads' replies are taken before nats-py's
dispatch (``nats_internals``).

The connection reconnects forever with a capped exponential backoff. While it is down, every
request fails at once with :class:`EventStoreUnavailable` (nothing is buffered to be sent later,
so no write can land after its caller was told it failed); requests in flight when it drops fail
with :class:`EventStoreOutcomeUnknown`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable, Coroutine, Mapping
from contextlib import suppress
from typing import Any, TypeVar

import nats.errors
from nats.aio.client import Client as NatsConnection
from nats.aio.client import Server
from nats.aio.msg import Msg

from adapters.jetstream import grouped, nats_internals, traced
from adapters.jetstream.appends import GroupCommit
from adapters.jetstream.batches import MAX_BATCH, BatchPublisher
from adapters.jetstream.bulk import BulkReads, PageRequest
from adapters.jetstream.errors import EventStoreOutcomeUnknown, EventStoreUnavailable
from adapters.jetstream.inbox import Inbox
from adapters.jetstream.loops import new_event_loop
from adapters.jetstream.requests import Requests
from adapters.telemetry import tracing

logger = logging.getLogger("cairn.eventstore")

_MAX_BACKOFF = 1.0

T = TypeVar("T")


class NatsClient:
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
        batch_linger: float = 0.0,
    ) -> None:
        self.url = url
        self.request_timeout = request_timeout
        self.group_commit = group_commit
        self._closed = False
        self._loop = new_event_loop()
        self._nc = NatsConnection()
        self._inbox = Inbox()
        self.requests = Requests(
            self._nc, self._loop, self._inbox, url=url, timeout=request_timeout
        )
        # Batches in flight per stream: without group commit one per save (the server takes
        # at most 50 per stream). With it, the saves arriving meanwhile are combined into the
        # next batch, and a further batch is sent before the last one is answered only when
        # it is full (measured on one server with fsync per batch: each batch costs the server
        # about as much as 100 messages, so small ones in flight only waste it; full ones
        # keep it busy while the client prepares the next).
        # With tracing on, each save is a span whose context its messages carry (traced.py).
        appends = traced.TracedGroupCommit if tracing.enabled() else GroupCommit
        self.appends = appends(
            self._nc,
            self._loop,
            BatchPublisher(self._nc, self._inbox, url=url, timeout=request_timeout),
            url=url,
            request_timeout=request_timeout,
            max_inflight=max_inflight_groups if group_commit else max_inflight_batches,
            max_group=MAX_BATCH if group_commit else 0,
            linger=group_linger if group_commit else 0.0,
            max_singles=grouped.MAX_SINGLES if group_commit else 0,
            batch_linger=batch_linger if group_commit else 0.0,
        )
        # Bulk reads (batched direct gets, consumer fetches), answered raw under the inbox.
        self._pages = BulkReads(self._inbox.prefix + "b", self._loop, self._inbox.count_fetched)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"cairn-nats-{name}", daemon=True
        )
        self._thread.start()
        try:
            self.call(self._connect(name, connect_timeout), timeout=connect_timeout + 5)
        except BaseException:
            self._stop_loop()
            raise

    # ---- lifecycle -------------------------------------------------------------------------

    async def _connect(self, name: str, connect_within: float) -> None:
        nc = self._nc
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
        # Every reply under the inbox (requests, appends, bulk reads) is taken by the
        # connection's reader, before nats-py's dispatch; the subscription is what tells the
        # server (also after a reconnect) to send them here.
        inbox = await nc.subscribe(self._inbox.prefix + "*", cb=self._inbox.on_reply)
        pages, bulk = self._pages, self._pages.prefix

        def replied(subject: bytes, headers: bytes | None, data: bytes) -> None:
            if subject.startswith(bulk):
                pages.deliver(subject, headers, data)
            else:
                self._inbox.on_raw(nc, subject, headers, data)

        sid = nats_internals.sid_of(inbox)
        routes = nats_internals.Routes(
            self._inbox.prefix.encode(), sid, replied, pages.deliver_fetched
        )
        nats_internals.install(nc, routes)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.requests.close()
        self.appends.close()
        with suppress(Exception):
            self.call(self._close(), timeout=5)
        self._stop_loop()

    async def _close(self) -> None:
        self.appends.fail_queued(EventStoreUnavailable("the event store connection is closed"))
        self._fail_inflight()
        await self.appends.settle(within=1)  # appends in flight hand their callers the failure
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

    @property
    def messages_fetched(self) -> int:
        """Messages read by direct get or consumer fetch (for tests and metrics)."""
        return self._inbox.messages_fetched

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
        self.appends.fail_queued(
            EventStoreUnavailable("the NATS connection was lost; nothing was written, retry")
        )
        self._fail_inflight()

    def _fail_inflight(self) -> None:
        self._pages.fail_all(
            EventStoreUnavailable("the NATS connection was lost before the answer arrived; retry")
        )
        self._inbox.fail_all()

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
        return self.requests.request(subject, payload, headers, write=write, timeout=timeout)

    def api(
        self, subject: str, body: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Call the JetStream JSON API (``$JS.API.<subject>``), waiting at most ``timeout``
        seconds (default: the request timeout)."""
        return self.requests.api(subject, body, timeout=timeout)

    def api_nowait(self, subject: str) -> None:
        """A JetStream API request whose answer nobody waits for (cleaning up)."""
        self.requests.api_nowait(subject)

    def direct_get(self, stream: str, body: Mapping[str, Any]) -> Msg | None:
        """One message by direct get (``last_by_subj``, ``seq`` + ``next_by_subj``), or None."""
        return self.requests.direct_get(stream, body)

    def direct_get_batch(self, stream: str, body: Mapping[str, Any]) -> tuple[list[Msg], int]:
        """Up to ``body["batch"]`` messages and how many more match (through nats-py's
        dispatch: bulk reads use ``request_page``, which is much faster)."""
        return self.requests.direct_get_batch(stream, body)

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

    def _check_open(self) -> None:
        if self._closed:
            raise EventStoreUnavailable("the event store connection is closed")
        if not self._nc.is_connected:
            raise EventStoreUnavailable(f"NATS at {self.url} is unreachable (reconnecting); retry")
