"""Competing consumers: any number of processes share one durable JetStream pull consumer.

Each message is handed to a synchronous handler in a thread of this process; it is
acknowledged only after the handler returned (so whatever the handler stored is stored), put
back with a delay when the handler asks for it, and kept alive with progress acks while the
handler works. A process killed at any point leaves its unacknowledged messages to be
delivered again after `ack_wait`, to whichever process asks first.

A process holds at most `concurrency` messages that need a handler (at work or asked for):
its pull requests ask for what is left of that room (``pulls``), so a burst is shared between
the processes. Messages that need no work (`skip`, read from the headers) are acknowledged
on the loop as they arrive and take no room; `skip` reads the raw header block (``replies.header``),
so a skipped message costs no header dict and no item, and its ack goes with the next write
(nothing waits for it; lost, it only brings the message again, to be skipped; decision 0062).
The consumer delivers headers only: a handler is given the subject and headers of a message,
never its payload (decision 0043).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsConnection
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from adapters.jetstream import replies
from adapters.jetstream.pulls import Pulls

logger = logging.getLogger("cairn.work")


@dataclass(frozen=True)
class WorkItem:
    subject: str
    headers: Mapping[str, str]
    stream_sequence: int
    deliveries: int  # 1 on the first delivery


# None: done, acknowledge. A number: not done, deliver again after that many seconds.
Handler = Callable[[WorkItem], float | None]
# True for a message that asks for no work, told from its subject and raw header block
# (``replies.header``): acknowledged on the loop, no thread, with the next write.
Skip = Callable[[bytes, bytes | None], bool]

# After the consumer refused a pull request (deleted, an error): seconds before asking again.
REFUSED_PAUSE_S = 0.5


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    subject_filter: str
    # Seconds without an ack or a progress ack before the server hands a message to another
    # process: how long a killed worker's messages wait.
    ack_wait: float = 30.0
    # Messages handed out and not acknowledged yet, over all processes.
    max_ack_pending: int = 1000
    # More subjects the consumer follows beside `subject_filter` (JetStream filter_subjects).
    more_filters: tuple[str, ...] = ()
    # A consumer created where the stream has history already starts after it (no backfill).
    new_only: bool = False


class DurableWork:
    def __init__(
        self,
        url: str,
        spec: ConsumerSpec,
        handle: Handler,
        *,
        concurrency: int = 8,
        name: str = "cairn-worker",
        pull_wait: float = 1.0,
        skip: Skip | None = None,
    ) -> None:
        self.url = url
        self.spec = spec
        self.handle = handle
        self.skip = skip
        self.concurrency = concurrency
        self.name = name
        # Seconds a pull request stays open when it finds nothing (then it is asked again).
        self.pull_wait = pull_wait
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix=name)
        self.working = 0  # messages at a handler (or waiting for a thread)
        self.handled = 0  # messages acknowledged, or skipped and their acks queued (tests, metrics)
        self._idle = asyncio.Event()
        self._pulls: Pulls | None = None
        self._stopping = False
        self._paused = False
        self._consuming: tuple[asyncio.AbstractEventLoop, JetStreamContext] | None = None

    async def run(
        self, stopping: asyncio.Event, on_ready: Callable[[], None] | None = None
    ) -> None:
        """Consume until `stopping` is set; then finish the messages in hand."""
        self._stopping = False
        self._idle = asyncio.Event()
        nc: NatsConnection = await nats.connect(
            self.url,
            name=self.name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            reconnected_cb=self._reconnected,
        )
        try:
            js = nc.jetstream()
            await js.add_consumer(self.spec.stream, self._config())
            self._consuming = (asyncio.get_running_loop(), js)
            pulls = Pulls(
                nc,
                self.spec.stream,
                self.spec.durable,
                expires=self.pull_wait,
                on_delivery=self._delivered,
                on_change=self._ask,
            )
            await pulls.start()
            self._pulls = pulls
            self._ask()
            if on_ready is not None:
                on_ready()
            while not stopping.is_set():
                # A request lost without an answer (it cannot be told apart from one that
                # found nothing yet) is given up after its expiry and a margin.
                with suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.pull_wait + 1.0)
                if (
                    not stopping.is_set()
                    and pulls.asked > 0
                    and pulls.silent_for(self.pull_wait + 1.0)
                ):
                    pulls.forget()
                    self._ask()
            self._stopping = True
            if self.working:
                self._idle.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), self.spec.ack_wait)
            with suppress(Exception):
                await pulls.flush()
        finally:
            self._consuming = None
            self._pulls = None
            with suppress(Exception):
                await nc.close()
            self._threads.shutdown(wait=False, cancel_futures=True)

    def queue_depth(self) -> list[tuple[float, dict[str, str]]] | None:
        """Messages of the shared consumer waiting for a worker or in a worker's hands, asked
        of the server (from any thread); None while not consuming."""
        consuming = self._consuming
        if consuming is None:
            return None
        loop, js = consuming
        asked = js.consumer_info(self.spec.stream, self.spec.durable)
        info = asyncio.run_coroutine_threadsafe(asked, loop).result(5)
        depth = (info.num_pending or 0) + (info.num_ack_pending or 0)
        return [(depth, {"messaging.consumer.group.name": self.spec.durable})]

    def _config(self) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.spec.durable,
            durable_name=self.spec.durable,
            filter_subject=None if self.spec.more_filters else self.spec.subject_filter,
            filter_subjects=(
                [self.spec.subject_filter, *self.spec.more_filters]
                if self.spec.more_filters
                else None
            ),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW if self.spec.new_only else DeliverPolicy.ALL,
            ack_wait=self.spec.ack_wait,
            max_deliver=-1,
            max_ack_pending=self.spec.max_ack_pending,
            # Handlers see subjects and headers only: the payloads are not sent at all.
            headers_only=True,
        )

    # ---- on the loop -----------------------------------------------------------------------

    def _ask(self) -> None:
        """Ask for what is left of the room: when nothing is asked for, or when at least half
        of the room is free (not a pull request per message)."""
        pulls = self._pulls
        if pulls is None or self._stopping or self._paused:
            return
        if pulls.refused:
            pulls.refused = False
            self._paused = True
            asyncio.get_running_loop().call_later(REFUSED_PAUSE_S, self._resume)
            return
        want = self.concurrency - self.working - pulls.asked
        if want > 0 and (pulls.asked == 0 or 2 * want >= self.concurrency):
            pulls.pull(want)

    def _resume(self) -> None:
        self._paused = False
        self._ask()

    async def _reconnected(self) -> None:
        # Pull requests do not survive the connection: ask again.
        if self._pulls is not None:
            self._pulls.forget()
            self._ask()

    def _delivered(self, subject: bytes, reply: bytes, block: bytes | None) -> None:
        pulls = self._pulls
        if pulls is None:
            return
        if self._stopping:
            pulls.nak(reply)  # to another process now, not after ack_wait
            return
        if self.skip is not None:
            try:
                skipped = self.skip(subject, block)
            except Exception as exc:
                # Not acknowledged: the server delivers it again after ack_wait.
                logger.warning("message %r left for redelivery (%r)", subject, exc)
                return
            if skipped:
                # Nothing was done for it: a lost ack only delivers it again, to be skipped.
                pulls.ack_with_next(reply)
                self.handled += 1
                return
        try:
            fields = replies.ack_fields(reply)
            item = WorkItem(
                subject.decode(), replies.parse_headers(block), int(fields[5]), int(fields[4])
            )
        except (ValueError, UnicodeDecodeError):
            logger.error("not a JetStream delivery: %r (reply %r)", subject, reply)
            return
        self.working += 1
        loop = asyncio.get_running_loop()
        alive = _KeepAlive(loop, pulls, reply, self.spec.ack_wait / 3)
        done = loop.run_in_executor(self._threads, self.handle, item)
        done.add_done_callback(lambda future: self._handled(future, item, reply, alive))

    def _handled(
        self,
        future: asyncio.Future[float | None],
        item: WorkItem,
        reply: bytes,
        alive: _KeepAlive,
    ) -> None:
        alive.cancel()
        self.working -= 1
        pulls = self._pulls
        if future.cancelled():  # the process is stopping: the message comes again elsewhere
            return
        try:
            again = future.result()
        except Exception as exc:
            # Not acknowledged: the server delivers it again after ack_wait.
            logger.warning("message %s left for redelivery (%r)", item.subject, exc)
        else:
            if pulls is not None and again is None:
                # Everything the handler stored is stored; a lost ack only delivers the
                # message again, to a handler that finds nothing left to do.
                pulls.ack(reply)
                self.handled += 1
            elif pulls is not None:
                pulls.nak(reply, again)
        if self.working == 0:
            self._idle.set()
        self._ask()


class _KeepAlive:
    """Progress acks for a message while its handler works."""

    __slots__ = ("_every", "_handle", "_loop", "_pulls", "_reply")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, pulls: Pulls, reply: bytes, every: float
    ) -> None:
        self._loop, self._pulls, self._reply, self._every = loop, pulls, reply, every
        self._handle = loop.call_later(every, self._tick)

    def _tick(self) -> None:
        self._pulls.progress(self._reply)
        self._handle = self._loop.call_later(self._every, self._tick)

    def cancel(self) -> None:
        self._handle.cancel()
