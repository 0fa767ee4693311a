"""Messages taken as the socket hands them over, before nats-py's read loop (decision 0066).

nats-py reads through asyncio's ``StreamReader``: each chunk the transport receives is copied
into the reader's buffer and wakes the read loop's task, which copies it out again
(``read``), and ``inbound`` copies it into the parser's buffer: two copies, a future and a
task step per chunk. Here the reader's ``feed_data`` (what ``StreamReaderProtocol.
data_received`` calls with each chunk) is wrapped: a chunk's complete messages for this
connection's routes (``inbound.Routes``) are handed over right there, from the chunk itself.
From the first operation that is anything else (a control line, a message for nats-py's
subscriptions, a message cut at the chunk's end, a malformed line) the rest of the chunk goes
to the reader as before, for the read loop and nats-py's parser.

The order of the connection's input is kept: a chunk is read here only while nothing of the
input waits anywhere else (the reader's buffer and the parser's are empty, the parser is
between operations, and the read loop is not inside ``parse``, ``busy``); otherwise all of it
goes to the reader. Private API relied on (pinned by test_pins.py): ``Client._transport``,
nats-py's ``TcpTransport._io_reader`` (an ``asyncio.StreamReader``), and that reader's
``_buffer`` and ``feed_data``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client as NatsConnection
from nats.errors import ProtocolError
from nats.protocol import parser as nats_parser

if TYPE_CHECKING:
    from adapters.jetstream.nats_internals.inbound import Routes

_CRLF = b"\r\n"
JS_ACK = b"$JS.ACK."


class Reading:
    """What the hooked reader of one connection reads with: every ``Routes`` installed on the
    connection, in the order its parser wrappers try them (the last installed first), and
    how many of those wrappers the read loop is inside (``busy``)."""

    __slots__ = ("busy", "routes")

    def __init__(self) -> None:
        self.busy = 0
        self.routes: list[Routes] = []


_readings: weakref.WeakKeyDictionary[NatsConnection, Reading] = weakref.WeakKeyDictionary()


def reading_of(nc: NatsConnection) -> Reading:
    found = _readings.get(nc)
    if found is None:
        found = _readings[nc] = Reading()
    return found


def reader_of(nc: NatsConnection) -> Any:
    """The ``StreamReader`` of ``nc``'s current transport, or None (not connected, or a
    transport that is not nats-py's TCP one)."""
    return getattr(nc._transport, "_io_reader", None)


def hook(nc: NatsConnection, reader: Any, reading: Reading) -> None:
    """Read the routed messages from the chunks ``reader`` is fed, while nothing waits."""
    original: Callable[[bytes], None] = reader.feed_data
    ps = nc._ps
    awaiting = nats_parser.AWAITING_CONTROL_LINE
    routes = reading.routes  # installs after this one add to it

    def feed_data(data: bytes) -> None:
        if (
            reading.busy
            or reader._buffer
            or ps.buf
            or ps.state != awaiting
            or type(data) is not bytes
            or reader_of(nc) is not reader
        ):
            original(data)
            return
        taken = take(data, routes)
        if taken < len(data):
            original(data[taken:] if taken else data)

    reader.feed_data = feed_data
    reader.cairn_hooked = True


def hooked(reader: Any) -> bool:
    return getattr(reader, "cairn_hooked", False) is True


def take(data: bytes, routes: list[Routes]) -> int:
    """Hand over the complete messages for ``routes`` at the front of ``data``; returns how
    many bytes they took (the rest is for nats-py's read loop). Never raises: what it cannot
    read is left (``message_args``' protocol error is raised by the read loop's parsing)."""
    pos = 0
    size_of = len(data)
    while pos < size_of:
        eol = data.find(_CRLF, pos)
        if eol < 0:
            return pos
        if data.startswith(b"HMSG ", pos):
            args = data[pos + 5 : eol].split()
            with_headers = True
        elif data.startswith(b"MSG ", pos):
            args = data[pos + 4 : eol].split()
            with_headers = False
        else:
            return pos
        try:
            subject, sid, reply, header_size, size = message_args(args, with_headers)
        except ProtocolError:
            return pos
        start = eol + 2
        end = start + size
        if size_of < end + 2:
            return pos
        for route in routes:
            if subject.startswith(route.prefix):
                headers = data[start : start + header_size] if with_headers else None
                route.deliver(subject, headers, data[start + header_size : end])
                break
            if sid == route.sid and reply.startswith(JS_ACK):
                headers = data[start : start + header_size] if with_headers else None
                route.deliver_fetched(subject, reply, headers, data[start + header_size : end])
                break
        else:
            return pos
        pos = end + 2
    return pos


def message_args(
    args: Sequence[bytes | bytearray], with_headers: bool
) -> tuple[bytes, int, bytes, int, int]:
    """subject, sid, reply (b"" if none), header size, total size of ``[H]MSG`` arguments."""
    try:
        if with_headers:
            if len(args) not in (4, 5):
                raise ValueError(args)
            header_size, size = int(args[-2]), int(args[-1])
        else:
            if len(args) not in (3, 4):
                raise ValueError(args)
            header_size, size = 0, int(args[-1])
        if not 0 <= header_size <= size:
            raise ValueError(args)
        reply = bytes(args[2]) if len(args) == (5 if with_headers else 4) else b""
        return bytes(args[0]), int(args[1]), reply, header_size, size
    except ValueError:
        raise ProtocolError("nats: malformed MSG") from None
