"""Pull requests kept open on a durable consumer, and its deliveries taken raw.

nats-py's `fetch` sends a pull request per call and hands each message through its
subscription queue (a task, a timer and a `Msg` per message); a run worker that asked for
one message, then for those that came with it, sent two or three pull requests per message
it got, and five of a run's six messages ask for nothing but an ack (decision 0043). Here:

- a pull request asks for as many messages as the caller has room for and stays open until
  they came or it expired (`expires`); the caller asks again when its room grew, not per
  message. Every pull request has the same reply subject, so its deliveries cannot be told
  apart: what is counted is how many messages the open requests still owe (`asked`): one
  less per delivery, and what an ending status says its request still owed
  (`Nats-Pending-Messages`); a status that says nothing (the consumer deleted, a leader
  change, an error) means none of them is open any more;
- deliveries are read before nats-py's per-message dispatch (``nats_internals``) and handed
  on raw (subject, ack subject, header block): the caller decodes only what it needs (a
  delivery that asks for nothing is acknowledged from its raw headers, decision 0062);
- acks, negative acks and progress acks are protocol lines written without a reply subject
  (the server answers none) and gathered: all of those queued while the loop is busy are
  written together; the acks of messages that asked for nothing wait for the next write (or
  ``ACK_LINGER_S``), so that several read passes share one socket write (decision 0062).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable

from nats.aio.client import Client as NatsConnection

from adapters.jetstream import replies
from adapters.jetstream.nats_internals import Routes, install, sid_of, writer_of

logger = logging.getLogger("cairn.work")

NAK = b"-NAK"  # acks are "+ACK", progress "+WPI" (written out below, one line each)
_PENDING_MESSAGES = replies.header_key("Nats-Pending-Messages")
_IDLE_HEARTBEAT = "100"
# How long an ack that nothing waits for (`ack_with_next`) may wait for a write to go with.
ACK_LINGER_S = 0.05

# A delivery as read: (subject, ack subject, header block or None).
OnDelivery = Callable[[bytes, bytes, bytes | None], None]


class Pulls:
    """The open pull requests of one connection to one consumer (used on the loop only)."""

    def __init__(
        self,
        nc: NatsConnection,
        stream: str,
        consumer: str,
        *,
        expires: float,
        on_delivery: OnDelivery,
        on_change: Callable[[], None],
    ) -> None:
        self._nc = nc
        self.inbox = f"_INBOX.{uuid.uuid4().hex}.pull"
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}".encode()
        self._expires_ns = int(expires * 1e9)
        self._on_delivery = on_delivery
        self._on_change = on_change  # told when `asked` fell (room to ask for more)
        self.asked = 0  # messages the open pull requests still owe
        self.refused = False  # the last status was an error: ask again only after a pause
        self._heard = 0.0  # loop time of the last pull request, delivery or status
        self._out: list[bytes] = []
        self._soon: asyncio.Handle | None = None  # the write of what this pass queued
        self._later: asyncio.TimerHandle | None = None  # the write of lingering acks

    async def start(self) -> None:
        """Receive the deliveries (the inbox is subscribed again after a reconnect)."""
        subscription = await self._nc.subscribe(self.inbox)
        install(
            self._nc, Routes(self.inbox.encode(), sid_of(subscription), self._status, self._got)
        )

    def pull(self, batch: int) -> None:
        """Ask for up to `batch` more messages, delivered as they come until `expires`."""
        body = b'{"batch":%d,"expires":%d}' % (batch, self._expires_ns)
        self.asked += batch
        self._heard = asyncio.get_running_loop().time()
        self._send(b"PUB %s %s %d\r\n%s\r\n" % (self._next, self.inbox.encode(), len(body), body))

    def silent_for(self, seconds: float) -> bool:
        """Whether nothing was asked for or heard of for this long."""
        return asyncio.get_running_loop().time() - self._heard > seconds

    def forget(self) -> None:
        """The open requests are gone (the connection was lost): none owes anything."""
        self.asked = 0

    def ack(self, reply: bytes) -> None:
        self._send(b"PUB %s 4\r\n+ACK\r\n" % reply)

    def ack_with_next(self, reply: bytes) -> None:
        """Acknowledge a message whose ack nothing waits for (it asked for no work: lost, it
        is only delivered again, to be acknowledged again) with the next write, within
        ``ACK_LINGER_S``: a socket write less per read pass that brought only such messages."""
        self._out.append(b"PUB %s 4\r\n+ACK\r\n" % reply)
        if self._soon is None and self._later is None:
            self._later = asyncio.get_running_loop().call_later(ACK_LINGER_S, self._write)

    def progress(self, reply: bytes) -> None:
        self._send(b"PUB %s 4\r\n+WPI\r\n" % reply)

    def nak(self, reply: bytes, delay: float | None = None) -> None:
        payload = NAK
        if delay:
            payload += b" " + json.dumps({"delay": int(delay * 1e9)}).encode()
        self._send(b"PUB %s %d\r\n%s\r\n" % (reply, len(payload), payload))

    async def flush(self) -> None:
        """Write what is queued and wait until it is on the wire."""
        self._write()
        writer_of(self._nc).flush()
        await self._nc.flush()

    def _send(self, line: bytes) -> None:
        if self._soon is None:
            self._soon = asyncio.get_running_loop().call_soon(self._write)
        self._out.append(line)

    def _write(self) -> None:
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        # This runs at the end of the loop pass (or of the linger): written now, after whatever
        # nats-py queued before; while the connection is down, kept for nats-py to write once it
        # is back. A lost ack only brings its message again (after ack_wait); lost pull
        # requests are asked again once the connection is back (`forget`).
        writer_of(self._nc).queue_and_flush(data)

    # ---- from nats-py's read loop (neither may raise: it would stop reading) ---------------

    def _got(self, subject: bytes, reply: bytes, headers: bytes | None, data: bytes) -> None:
        if self.asked > 0:
            self.asked -= 1
        self._heard = asyncio.get_running_loop().time()
        try:
            self._on_delivery(subject, reply, headers)
            self._on_change()
        except Exception:
            logger.exception("delivery of %r (reply %r) failed", subject, reply)

    def _status(self, subject: bytes, headers: bytes | None, data: bytes) -> None:
        if headers is None or not replies.is_status(headers):
            return
        code, description = replies.status(headers)
        self._heard = asyncio.get_running_loop().time()
        if code == _IDLE_HEARTBEAT:
            return
        owed = replies.value(headers, _PENDING_MESSAGES)
        if owed is not None and owed.isdigit():
            # One request ended (expired, or ended by the server) owing this many.
            self.asked = max(0, self.asked - int(owed))
        else:
            self.asked = 0
        self.refused = code not in ("408", "409") or owed is None
        if self.refused:
            logger.warning("the work consumer answered %s %s", code, description)
        try:
            self._on_change()
        except Exception:
            logger.exception("asking for more work failed")
