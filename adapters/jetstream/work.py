"""Competing consumers: any number of processes share one durable JetStream pull consumer.

Each message is handed to a synchronous handler in a thread of this process; it is
acknowledged only after the handler returned (so whatever the handler stored is stored), put
back with a delay when the handler asks for it, and kept alive with progress acks while the
handler works. A process killed at any point leaves its unacknowledged messages to be
delivered again after `ack_wait`, to whichever process asks first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass

import nats
import nats.errors
from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

logger = logging.getLogger("cairn.work")


@dataclass(frozen=True)
class WorkItem:
    subject: str
    headers: Mapping[str, str]
    stream_sequence: int
    deliveries: int  # 1 on the first delivery


# How long a worker that just got a message waits for others that came with it.
TOP_UP_S = 0.005

# None: done, acknowledge. A number: not done, deliver again after that many seconds.
Handler = Callable[[WorkItem], float | None]
# True for a message that asks for no work: acknowledged at once, on the loop, no thread.
Skip = Callable[[WorkItem], bool]


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
    # Messages are delivered without their body (a handler that reads headers alone).
    headers_only: bool = False


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
        # Seconds a pull waits for a message when none is there (then `stopping` is checked).
        self.pull_wait = pull_wait
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix=name)
        self._tasks: set[asyncio.Task[None]] = set()
        self.handled = 0  # messages acknowledged (for tests and metrics)
        self._consuming: tuple[asyncio.AbstractEventLoop, JetStreamContext] | None = None

    async def run(
        self, stopping: asyncio.Event, on_ready: Callable[[], None] | None = None
    ) -> None:
        """Consume until `stopping` is set; then finish the messages in hand."""
        nc: NatsConnection = await nats.connect(
            self.url, name=self.name, max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
        try:
            js = nc.jetstream()
            await js.add_consumer(self.spec.stream, self._config())
            self._consuming = (asyncio.get_running_loop(), js)
            sub = await js.pull_subscribe_bind(self.spec.durable, self.spec.stream)
            if on_ready is not None:
                on_ready()
            while not stopping.is_set():
                free = self.concurrency - len(self._tasks)
                if free <= 0:
                    await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
                    continue
                # The first message as soon as it is there, at work before more are asked for;
                # then those that came with it (a save of several events), if there is room.
                first = await self._fetch(sub, 1, self.pull_wait)
                self._start(first)
                free = self.concurrency - len(self._tasks)
                if first and free > 0:
                    self._start(await self._fetch(sub, free, TOP_UP_S))
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=self.spec.ack_wait)
        finally:
            self._consuming = None
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

    def _start(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            task = asyncio.get_running_loop().create_task(self._work(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetch(
        self, sub: JetStreamContext.PullSubscription, batch: int, wait: float
    ) -> list[Msg]:
        """Up to `batch` messages. nats-py's `fetch(n)`, once a first message came, waits for
        n of them or its whole timeout: asked for more than one with `pull_wait`, a message
        arriving alone waited up to a second (decision 0021). `wait`: seconds at most."""
        try:
            return await sub.fetch(batch, timeout=wait)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except (nats.errors.Error, OSError) as exc:
            logger.warning("fetching work failed (%r); trying again", exc)
            await asyncio.sleep(0.5)
            return []

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
            headers_only=self.spec.headers_only,
        )

    async def _work(self, msg: Msg) -> None:
        try:
            meta = msg.metadata
            item = WorkItem(
                msg.subject, dict(msg.headers or {}), meta.sequence.stream, meta.num_delivered
            )
            if self.skip is not None and self.skip(item):
                # Nothing was done for it: a lost ack only delivers it again, to be skipped.
                await msg.ack()
                self.handled += 1
                return
            loop = asyncio.get_running_loop()
            progress = loop.create_task(self._keep_alive(msg))
            try:
                again = await loop.run_in_executor(self._threads, self.handle, item)
            finally:
                progress.cancel()
            if again is None:
                await msg.ack_sync(timeout=5)
                self.handled += 1
            else:
                await msg.nak(delay=again)
        except Exception as exc:
            # Not acknowledged: the server delivers it again after ack_wait.
            logger.warning("message %s left for redelivery (%r)", msg.subject, exc)

    async def _keep_alive(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.spec.ack_wait / 3)
            with suppress(Exception):
                await msg.in_progress()
