"""Replies to one connection's requests and appends: one inbox subscription, routed by token."""

from __future__ import annotations

import concurrent.futures
import itertools
import uuid
from typing import Any

from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg

from adapters.jetstream import headers as h
from adapters.jetstream import replies
from adapters.jetstream.errors import EventStoreOutcomeUnknown, EventStoreUnavailable
from adapters.jetstream.nats_internals import message


def status_of(msg: Msg) -> str | None:
    return msg.headers.get(h.STATUS) if msg.headers else None


class Reply:
    """What one request waits for: its first reply (``multi``: every message up to a status)."""

    __slots__ = ("count", "future", "msgs", "multi", "write")

    def __init__(
        self, future: concurrent.futures.Future[Any], *, multi: bool, write: bool, count: bool
    ) -> None:
        self.future = future
        self.multi = multi
        self.write = write  # a write: if its answer is lost, it may have been stored
        self.count = count  # its messages count as fetched
        self.msgs: list[Msg] = []


class Inbox:
    """The replies waited for under ``prefix`` (reply subject: prefix + token). Used on the
    connection's loop only; ``waiting`` and ``tokens`` are shared with the parts that send."""

    def __init__(self) -> None:
        self.prefix = f"_INBOX.{uuid.uuid4().hex}."
        self.tokens = itertools.count()
        self.waiting: dict[str, Reply] = {}
        self.messages_fetched = 0  # messages read by direct get (for tests and metrics)

    def count_fetched(self, count: int) -> None:
        self.messages_fetched += count

    async def on_reply(self, msg: Msg) -> None:
        """A reply dispatched by nats-py (the inbox subscription's callback)."""
        self.take(msg)

    def on_raw(
        self, nc: NatsConnection, subject: bytes, headers: bytes | None, data: bytes
    ) -> None:
        """A reply taken before nats-py's dispatch (by the connection's reader, decision 0043):
        made into the ``Msg`` nats-py would have made. Never raises (it runs in the reader)."""
        try:
            msg = message(nc, subject.decode(), data, replies.nats_headers(headers))
        except UnicodeDecodeError:
            return
        self.take(msg)

    def take(self, msg: Msg) -> None:
        token = msg.subject[len(self.prefix) :]
        reply = self.waiting.get(token)
        if reply is None:
            return
        if reply.multi and status_of(msg) is None:
            reply.msgs.append(msg)
            return
        del self.waiting[token]
        if reply.count:
            self.messages_fetched += len(reply.msgs) if reply.multi else int(status_of(msg) is None)
        if not reply.future.done():
            reply.future.set_result((reply.msgs, msg) if reply.multi else msg)

    def fail_all(self) -> None:
        """The connection was lost or closed: no reply will come."""
        waiting = list(self.waiting.values())
        self.waiting.clear()
        for reply in waiting:
            if not reply.future.done():
                cls = EventStoreOutcomeUnknown if reply.write else EventStoreUnavailable
                reply.future.set_exception(
                    cls("the NATS connection was lost before the answer arrived; retry")
                )
