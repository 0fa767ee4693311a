"""The one JetStream consumer of an API process: an ephemeral pull consumer on the events.

Why pull and not an ordered push consumer: a pull consumer only sends what was asked for, so
the process can never be flooded into dropping messages (a core-NATS slow consumer), and the
feed always knows the last stream sequence it handed on. Whenever anything looks wrong — a
consumer sequence gap, no heartbeat for three intervals, a reconnect, the consumer deleted on
the server — it throws the consumer away and creates a new one that starts right after that
sequence: never a gap, never a replay from the stream's beginning.

Its credits (``batch`` messages asked for, more when no more than half are still owed) and
checks are kept by a ``ConsumerLedger``, as the projectors' live consumer's are (0058).

Deliveries and statuses are taken raw, before nats-py's per-message dispatch (its protocol
regexes, a header dict, a ``Msg``, the subscription's queue), as the run workers' consumer
takes its own (decisions 0043, 0052): every event of the stream comes through here. The
pull requests of every consumer of the feed answer to one wildcard subscription, each
consumer to its own subject under it, so a replaced consumer's late messages are told
apart by their subject (statuses) or by the consumer named in their ack subject.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from contextlib import suppress

from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from adapters.jetstream import following_consumer, replies
from adapters.jetstream import headers as h
from adapters.jetstream.consumer_ledger import ConsumerGap, ConsumerLedger
from adapters.jetstream.nats_internals import Routes, install, sid_of
from adapters.push.events import StoredMessage

logger = logging.getLogger("cairn.push")

Deliver = Callable[[StoredMessage], None]


def ack_metadata(reply: bytes) -> tuple[bytes, int, int, int]:
    """(consumer, stream sequence, consumer sequence, timestamp ns) from a ``$JS.ACK...``
    reply subject (the 9-token form and the 12-token form with domain and account hash);
    ValueError if it is not one."""
    fields = replies.ack_fields(reply)
    return fields[3], int(fields[5]), int(fields[6]), int(fields[7])


class ConsumerFeed:
    def __init__(
        self,
        nc: NatsConnection,
        stream: str,
        subject_filter: str,
        deliver: Deliver,
        *,
        batch: int = 256,
        idle_heartbeat: float = 1.0,
        expires: float = 30.0,
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.subject_filter = subject_filter
        self.deliver = deliver
        self.batch = batch
        self.idle_heartbeat = idle_heartbeat
        self.expires = expires
        self._ledger = ConsumerLedger(batch, idle_heartbeat)
        self.resets = 0  # consumers thrown away (for tests and metrics)
        self._consumer: str | None = None
        self._consumer_token = b""  # the consumer's name as its deliveries' ack subject has it
        self._inbox = f"_INBOX.{uuid.uuid4().hex}."  # each consumer's pull requests: + generation
        self._reply = ""  # where the current consumer's pull requests are answered
        self._sub: Subscription | None = None  # of every reply subject under the inbox
        self._sending: set[asyncio.Task[None]] = set()
        self._generation = 0
        self._broken = asyncio.Event()  # wakes the watch when the consumer is to be replaced
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def position(self) -> int:
        """The last stream sequence handed to ``deliver``."""
        return self._ledger.position

    async def start(self, after: int) -> None:
        """Deliver every event stored after sequence ``after``; returns once consuming."""
        self._ledger.position = after
        self._sub = await self.nc.subscribe(self._inbox + "*", cb=_taken_raw)
        routes = Routes(self._inbox.encode(), sid_of(self._sub), self._on_status, self._on_event)
        install(self.nc, routes)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cairn-push-feed")
        with suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 10)

    def reset(self, why: str) -> None:
        """Replace the consumer (from the last delivered sequence on); safe to call anytime."""
        if self._ledger.replace():
            logger.info("push feed: replacing its consumer (%s)", why)
            self._broken.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await self._teardown()
        sub, self._sub = self._sub, None
        if sub is not None:
            with suppress(Exception):
                await sub.unsubscribe()

    async def _run(self) -> None:
        delay = 0.05
        while True:
            self._broken.clear()
            self._ledger.restart()
            try:
                await self._create()
                self._ready.set()
                delay = 0.05
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("push feed: consumer failed (%r); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                await self._teardown()
            self.resets += 1

    async def _create(self) -> None:
        name = f"cairn_push_{uuid.uuid4().hex[:16]}"
        reply = await self.nc.request(
            f"$JS.API.CONSUMER.CREATE.{self.stream}.{name}",
            following_consumer.create_request(
                self.stream, name, self.position, self.subject_filter, self.expires
            ),
            timeout=5,
        )
        response = json.loads(reply.data or b"{}")
        if "error" in response:
            raise RuntimeError(f"cannot create the push consumer: {response['error']}")
        self._generation += 1
        self._consumer = name
        self._consumer_token = name.encode()
        self._reply = f"{self._inbox}{self._generation}"
        self._ledger.hear()
        self._pull()

    def _pull(self) -> None:
        """Ask for another batch (the request is written by a task: called on the reader)."""
        if self._sub is None or self._consumer is None:
            return
        self._ledger.asked()
        task = asyncio.get_running_loop().create_task(
            self.nc.publish(
                f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self._consumer}",
                following_consumer.pull_request(self.batch, self.expires, self.idle_heartbeat),
                reply=self._reply,
            )
        )
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self.reset(f"a pull request failed ({error!r})")

    async def _watch(self) -> None:
        while not self._ledger.replacing:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._broken.wait(), self.idle_heartbeat)
            if (silence := self._ledger.silence()) is not None:
                self.reset(silence)

    async def _teardown(self) -> None:
        self._generation += 1
        name, self._consumer = self._consumer, None
        self._consumer_token, self._reply = b"", ""
        if name is not None and self.nc.is_connected:
            with suppress(Exception):
                await self.nc.request(
                    f"$JS.API.CONSUMER.DELETE.{self.stream}.{name}", b"", timeout=2
                )

    def _on_event(self, subject: bytes, reply: bytes, head: bytes | None, data: bytes) -> None:
        """A delivery, taken raw (on the connection's reader: never raises)."""
        ledger = self._ledger
        if ledger.replacing or not self._consumer_token:
            return  # being replaced: its successor starts after the last delivered sequence
        try:
            consumer, seq, cseq, time_ns = ack_metadata(reply)
        except ValueError:
            return
        if consumer != self._consumer_token:
            return  # a late message of a replaced consumer
        try:
            fresh = ledger.delivered(seq, cseq)
        except ConsumerGap as gap:
            self.reset(str(gap))
            return
        if fresh:
            try:
                stored = StoredMessage(
                    seq, subject.decode(), replies.parse_headers(head), data, time_ns
                )
                self.deliver(stored)
            except Exception:
                logger.exception("push feed: delivering event %d failed", seq)
        if ledger.wants_more:
            self._pull()

    def _on_status(self, subject: bytes, head: bytes | None, _data: bytes) -> None:
        """A status to the current consumer's reply subject, taken raw (never raises)."""
        if self._ledger.replacing or subject.decode() != self._reply:
            return  # an earlier consumer's
        self._ledger.hear()
        headers = replies.nats_headers(head) or {}
        status = headers.get(h.STATUS)
        if status is None:
            return
        try:
            self._status(status, headers)
        except ValueError as error:  # a malformed count: start again from the position
            self.reset(f"status {status}: {error}")

    def _status(self, status: str, headers: dict[str, str]) -> None:
        if status == "100":
            last = headers.get("Nats-Last-Consumer")
            if last is not None and (lost := self._ledger.heartbeat(int(last))) is not None:
                self.reset(lost)
            return
        description = headers.get("Description", "")
        if status in ("408", "409"):
            # A pull request ended (expired, or interrupted): release what it still owed.
            self._ledger.released(int(headers.get("Nats-Pending-Messages", "0") or 0))
            if status == "409" and "deleted" in description.lower():
                self.reset(f"consumer deleted on the server ({description})")
                return
            if self._ledger.wants_more:
                self._pull()
            return
        if status == "404":
            return
        self.reset(f"status {status} {description}")


async def _taken_raw(_msg: Msg) -> None:
    """The feed's replies are taken before nats-py's dispatch (``install``): none comes here."""
