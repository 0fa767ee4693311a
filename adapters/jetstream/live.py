"""An ephemeral pull consumer that follows a stream live, its deliveries taken raw (0058).

The consumer is the push feed's (adapters/push/feed.py): memory, one replica, no acks, from
the sequence after the last one taken, its credits and checks kept by the same
``ConsumerLedger``. Whenever anything looks wrong (a consumer sequence gap, a heartbeat
naming a later consumer sequence, nothing heard for three heartbeat intervals, a reconnect,
the consumer deleted, an unexpected status) it is thrown away and a new one starts right
after the last sequence taken: never a gap, never a message twice.

Deliveries and statuses are taken before nats-py's dispatch (``nats_internals``), as the run
workers' and the push feed's are (decisions 0043, 0052); those the connection's reader found
in one wake-up of the loop are handed on together, as one page, once it is done.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import weakref
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any, Final

import nats.errors
from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg

from adapters.jetstream import following_consumer, replies
from adapters.jetstream.consumer_ledger import ConsumerGap, ConsumerLedger
from adapters.jetstream.errors import EventStoreUnavailable, JetStreamApiError
from adapters.jetstream.nats_internals import Routes, install, sid_of
from adapters.jetstream.notifications import Delivery

logger = logging.getLogger("cairn.eventstore")

_LAST_CONSUMER: Final = replies.header_key("Nats-Last-Consumer")
_PENDING_MESSAGES: Final = replies.header_key("Nats-Pending-Messages")


class _Router:
    """The live consumers of one connection, installed once (a raw hook per consumer would
    pile up on the connection's reader): each consumer's statuses come to its own reply
    subject, its deliveries name it in their ack subject."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.by_reply: dict[bytes, LiveConsumer] = {}
        self.by_consumer: dict[bytes, LiveConsumer] = {}

    def status(self, subject: bytes, head: bytes | None, _data: bytes) -> None:
        consumer = self.by_reply.get(subject)
        if consumer is not None:
            consumer.on_status(head)

    def delivery(self, subject: bytes, reply: bytes, head: bytes | None, data: bytes) -> None:
        try:
            fields = replies.ack_fields(reply)
        except ValueError:
            return
        consumer = self.by_consumer.get(fields[3])
        if consumer is not None:  # else a replaced consumer's late message
            consumer.on_delivery(subject, fields, head, data)


_routers: weakref.WeakKeyDictionary[NatsConnection, _Router] = weakref.WeakKeyDictionary()


async def _router(nc: NatsConnection) -> _Router:
    router = _routers.get(nc)
    if router is None:
        router = _routers[nc] = _Router(f"_INBOX.{uuid.uuid4().hex}.")
        sub = await nc.subscribe(router.prefix + "*", cb=_taken_raw)  # again after reconnects
        install(nc, Routes(router.prefix.encode(), sid_of(sub), router.status, router.delivery))
    return router


async def _taken_raw(_msg: Msg) -> None:
    """Deliveries and statuses are taken before nats-py's dispatch: none comes here."""


class LiveConsumer:
    """Every message of ``subject_filter`` after ``after``, in pages to ``on_page`` (on the
    loop). A new consumer refused by the server ends it: ``on_failed``."""

    def __init__(
        self,
        nc: NatsConnection,
        stream: str,
        subject_filter: str,
        after: int,
        on_page: Callable[[list[Delivery]], None],
        on_failed: Callable[[BaseException], None],
        *,
        batch: int = 1000,
        idle_heartbeat: float = 1.0,
        expires: float = 30.0,
    ) -> None:
        self._nc, self.stream, self.filter = nc, stream, subject_filter
        self._on_page, self._on_failed = on_page, on_failed  # both called on the loop
        self.batch, self.idle_heartbeat, self.expires = batch, idle_heartbeat, expires
        self._ledger = ConsumerLedger(batch, idle_heartbeat, after)
        self.resets = 0  # consumers replaced (for tests and metrics)
        self.closed = False
        self._router: _Router | None = None
        self.name, self._reply = b"", b""  # of the current consumer
        self._generation = 0
        self._reconnects = 0
        self._pending = list[Delivery]()
        self._broken = asyncio.Event()  # wakes the watch when the consumer is to be replaced
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    @property
    def position(self) -> int:
        """The last stream sequence taken."""
        return self._ledger.position

    async def start(self) -> None:
        """Make the first consumer (refused: the caller's error), then follow."""
        self._router = await _router(self._nc)
        await self._create()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cairn-live")
        self._task.add_done_callback(self._ended)

    def reset(self, why: str) -> None:
        """Replace the consumer (from the last sequence taken on)."""
        if self._ledger.replace():
            logger.info("following %s: replacing its consumer (%s)", self.stream, why)
            self._broken.set()

    def close(self) -> None:
        self.closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        name = self._forget()
        if name and self._nc.is_connected:  # else the server drops it when idle
            subject = f"$JS.API.CONSUMER.DELETE.{self.stream}.{name.decode()}"
            self._send(self._nc.publish(subject, b""))

    def _ended(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:  # a bug: say so rather than follow no more without a word
            self._on_failed(error)

    async def _run(self) -> None:
        delay = 0.05
        while not self.closed:
            await self._watch()
            await self._delete()
            self.resets += 1
            while not self.closed:
                try:
                    await self._create()
                    delay = 0.05
                    break
                except JetStreamApiError as error:  # refused: whoever follows reads otherwise
                    self._on_failed(error)
                    return
                except EventStoreUnavailable as error:
                    logger.info("following %s: no consumer yet (%s)", self.stream, error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)

    async def _create(self) -> None:
        name = f"cairn_live_{uuid.uuid4().hex[:16]}"
        body = following_consumer.create_request(
            self.stream, name, self.position, self.filter, self.expires
        )
        self._broken.clear()
        self._ledger.restart()
        self._reconnects = self._nc.stats["reconnects"]
        try:
            reply = await self._nc.request(
                f"$JS.API.CONSUMER.CREATE.{self.stream}.{name}", body, timeout=5
            )
        except (TimeoutError, OSError, nats.errors.Error) as failed:
            raise EventStoreUnavailable(f"cannot create a consumer ({failed!r})") from failed
        refused = json.loads(reply.data or b"{}").get("error")
        if refused:
            description = str(refused.get("description"))
            code, err_code = int(refused.get("code", 0)), int(refused.get("err_code", 0))
            raise JetStreamApiError(description, code, err_code)
        assert self._router is not None
        self._generation += 1
        self.name = name.encode()
        self._reply = f"{self._router.prefix}{self._generation}".encode()
        self._router.by_consumer[self.name] = self
        self._router.by_reply[self._reply] = self
        self._ledger.hear()
        if not self.closed:  # closed meanwhile: ask for nothing
            self._pull()

    def _pull(self) -> None:
        """Ask for another batch (written by a task: this is called on the reader)."""
        self._ledger.asked()
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.name.decode()}"
        body = following_consumer.pull_request(self.batch, self.expires, self.idle_heartbeat)
        self._send(self._nc.publish(subject, body, reply=self._reply.decode()))

    def _send(self, publish: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(publish)
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None and not self.closed:
            self.reset(f"a request failed ({error!r})")

    async def _watch(self) -> None:
        while not self._ledger.replacing:
            with suppress(TimeoutError):  # (a timeout, not wait_for: no task per check)
                async with asyncio.timeout(self.idle_heartbeat / 2):
                    await self._broken.wait()
            if self._nc.stats["reconnects"] != self._reconnects:
                self.reset("NATS reconnected")
            elif (silence := self._ledger.silence()) is not None:
                self.reset(silence)

    async def _delete(self) -> None:
        name = self._forget()
        if name and self._nc.is_connected:
            with suppress(Exception):
                await self._nc.request(
                    f"$JS.API.CONSUMER.DELETE.{self.stream}.{name.decode()}", b"", timeout=2
                )

    def _forget(self) -> bytes:
        """Take no more of the current consumer's messages; returns its name."""
        name, self.name = self.name, b""
        if self._router is not None:
            self._router.by_consumer.pop(name, None)
            self._router.by_reply.pop(self._reply, None)
        self._reply = b""
        return name

    # ---- from the connection's reader (neither may raise: it would stop reading) -----------

    def on_delivery(
        self, subject: bytes, fields: list[bytes], head: bytes | None, data: bytes
    ) -> None:
        ledger = self._ledger
        if ledger.replacing:
            return  # its successor starts after the last sequence taken
        try:
            seq, cseq = int(fields[5]), int(fields[6])
        except ValueError:
            ledger.hear()
            return
        try:
            taken = ledger.delivered(seq, cseq)
        except ConsumerGap as gap:
            self.reset(str(gap))
            return
        if taken:
            if not self._pending:
                asyncio.get_running_loop().call_soon(self._hand_over)
            self._pending.append((subject, seq, head or b"", data))
        if ledger.wants_more:
            self._pull()

    def on_status(self, head: bytes | None) -> None:
        ledger = self._ledger
        if ledger.replacing or head is None or not replies.is_status(head):
            return
        ledger.hear()
        code, description = replies.status(head)
        if code == "100":  # an idle heartbeat
            last = replies.value(head, _LAST_CONSUMER)
            lost = ledger.heartbeat(int(last)) if last is not None and last.isdigit() else None
            if lost is not None:
                self.reset(lost)
            return
        if code in ("408", "409"):  # a pull request ended: release what it still owed
            owed = replies.value(head, _PENDING_MESSAGES)
            ledger.released(int(owed) if owed is not None and owed.isdigit() else 0)
            if code == "409" and "deleted" in description.lower():
                self.reset(f"consumer deleted on the server ({description})")
            elif ledger.wants_more:
                self._pull()
            return
        if code != "404":
            self.reset(f"status {code} {description}")

    def _hand_over(self) -> None:
        pending, self._pending = self._pending, []
        if not self.closed:
            self._on_page(pending)
