"""Where bulk reads are taken from nats-py's connection, before its per-message dispatch.

nats-py's protocol parser tries several regular expressions on every message, copies it
twice and awaits ``Client._process_msg``, which parses the headers into a dict, builds a
``Msg``, queues it on the subscription and calls its callback: in a replay of batched direct
gets that was most of the client's CPU. Private APIs of nats-py 2.x are used here (pinned by
tests/unit/adapters/jetstream/nats_internals/test_pins.py, so that an upgrade that changes
them fails loudly):

- ``Client._process_msg(sid, subject, reply, payload, header block or None)``, which the
  parser calls for every message: wrapped, so that bulk replies go to this module's callers;
- ``Client._ps`` (the parser), its ``buf``, ``state`` and ``parse(data)``, which the read
  loop calls with each chunk received: wrapped, so that messages (``MSG``, ``HMSG``) are read
  with ``find`` and ``split``. Every other operation (``PING``, ``PONG``, ``INFO``, ``+OK``,
  ``-ERR``, anything malformed) is handed to nats-py's own parser, alone, so that it answers,
  reconnects or fails as it always did.

A bulk reply is a message to the bulk inbox (``prefix``: batched direct get replies and the
statuses ending a read), or a JetStream delivery for a pull request of this connection (on
the inbox subscription ``sid``, with an ``$JS.ACK.`` reply subject; JetStream delivers with
the stream subject, not the inbox).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsConnection
from nats.protocol import parser as nats_parser

from adapters.jetstream.nats_internals.received import (
    JS_ACK,
    hook,
    hooked,
    message_args,
    reader_of,
    reading_of,
)

ProcessMsg = Callable[..., Awaitable[None]]  # (sid, subject, reply, payload, headers)
Deliver = Callable[[bytes, bytes | None, bytes], None]  # (subject, headers, payload)
DeliverFetched = Callable[[bytes, bytes, bytes | None, bytes], None]  # + reply

_CRLF = b"\r\n"


class Routes:
    """Where the bulk replies of one connection go."""

    def __init__(
        self, prefix: bytes, sid: int, deliver: Deliver, deliver_fetched: DeliverFetched
    ) -> None:
        self.prefix = prefix
        self.sid = sid
        self.deliver = deliver
        self.deliver_fetched = deliver_fetched

    def take(self, sid: int, subject: bytes, reply: bytes, data: bytes, head: bytes | None) -> bool:
        """True if the message was a bulk reply (then it has been delivered)."""
        if subject.startswith(self.prefix):
            self.deliver(subject, head, data)
            return True
        if sid == self.sid and reply.startswith(JS_ACK):
            self.deliver_fetched(subject, reply, head, data)
            return True
        return False


def install(nc: NatsConnection, routes: Routes) -> None:
    """Take bulk replies from ``nc``: in its parser, and in ``_process_msg`` for any other
    path a message may take."""
    original_process: ProcessMsg = nc._process_msg

    async def process_msg(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        if not routes.take(sid, subject, reply, data, headers):
            await original_process(sid, subject, reply, data, headers)

    nc._process_msg = process_msg  # type: ignore[method-assign]
    ps = nc._ps
    original_parse: Callable[[bytes], Awaitable[None]] = ps.parse

    reading = reading_of(nc)
    reading.routes.insert(0, routes)  # this wrapper tries its routes before earlier ones

    async def parse(data: bytes = b"") -> None:
        reader = reader_of(nc)
        if reader is not None and not hooked(reader):  # connected, or connected again
            hook(nc, reader, reading)
        reading.busy += 1
        try:
            if ps.state != nats_parser.AWAITING_CONTROL_LINE:  # within a message nats-py began
                await original_parse(data)
                return
            ps.buf.extend(data)
            await read(ps, original_parse, original_process, routes)
        finally:
            reading.busy -= 1

    ps.parse = parse  # type: ignore[method-assign]


async def read(
    ps: Any, original: Callable[[bytes], Awaitable[None]], process_msg: ProcessMsg, routes: Routes
) -> None:
    """Consume every complete operation at the front of the parser's buffer. (``Routes.take``
    is written out here: this runs for every message the connection receives.)"""
    buf: bytearray = ps.buf
    prefix, inbox_sid = routes.prefix, routes.sid
    deliver, deliver_fetched = routes.deliver, routes.deliver_fetched
    pos = 0
    try:
        while True:
            eol = buf.find(_CRLF, pos)
            if eol < 0:
                return
            if buf.startswith(b"HMSG ", pos):
                args = buf[pos + 5 : eol].split()
                with_headers = True
            elif buf.startswith(b"MSG ", pos):
                args = buf[pos + 4 : eol].split()
                with_headers = False
            else:  # a control line: nats-py's own parser reads it, alone
                line_end = eol + 2
                rest = bytes(buf[line_end:])
                del buf[line_end:]
                del buf[:pos]
                pos = 0
                await original(b"")
                if ps.buf is not buf:  # reset by a reconnect: the rest was the old link's
                    return
                buf.extend(rest)
                if len(buf) > len(rest):  # it left part of the line: let it read the rest too
                    await original(b"")
                    return
                continue
            subject, sid, reply, header_size, size = message_args(args, with_headers)
            start = eol + 2
            end = start + size
            if len(buf) < end + 2:
                return  # the rest of the message has not arrived yet
            headers = bytes(buf[start : start + header_size]) if with_headers else None
            payload = bytes(buf[start + header_size : end])
            pos = end + 2
            if subject.startswith(prefix):
                deliver(subject, headers, payload)
            elif sid == inbox_sid and reply.startswith(JS_ACK):
                deliver_fetched(subject, reply, headers, payload)
            else:
                del buf[:pos]
                pos = 0
                await process_msg(sid, subject, reply, payload, headers)
                if ps.buf is not buf:
                    return
    finally:
        if pos and ps.buf is buf:
            del buf[:pos]
