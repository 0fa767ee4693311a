"""Messages taken as the transport hands chunks to the connection's reader (``received``):
whatever the chunks and however the read loop is scheduled between them, the connection is
asked to do what nats-py's own parser asks, in the same order; the routed messages of a chunk
that arrives while nothing waits are handed over at once, without the read loop (no I/O)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsConnection
from nats.errors import ProtocolError
from nats.protocol import parser as nats_parser

from adapters.jetstream.nats_internals import inbound
from tests.support.nats_wire import hmsg, msg

pytestmark = pytest.mark.unit

PREFIX = b"_INBOX.abc.b"
INBOX_SID = 7
LIVE = b"_INBOX.live."  # a second route on the same connection (a live consumer's)
LIVE_SID = 9
ACK = b"$JS.ACK.s.c1.1.42.7.17.5"


class Recorder:
    """What a connection was asked to do, in order; nats-py's own dispatch yields to the
    loop (as its subscription queues may), so the read loop can be inside ``parse``."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.gate: asyncio.Event | None = None  # set: nats-py's dispatch waits for it

    def install_on(self, nc: Any) -> None:
        async def process_msg(*args: Any) -> None:
            await asyncio.sleep(0)  # reaches its subscription after the loop ran other work
            if self.gate is not None:
                await self.gate.wait()
            self.calls.append(("msg", *args))

        async def process_ping() -> None:
            self.calls.append(("ping",))

        async def process_pong() -> None:
            self.calls.append(("pong",))

        nc._process_msg = process_msg
        nc._process_ping = process_ping
        nc._process_pong = process_pong

    def deliver(self, subject: bytes, headers: bytes | None, data: bytes) -> None:
        self.calls.append(("bulk", subject, headers, data))

    def deliver_fetched(
        self, subject: bytes, reply: bytes, headers: bytes | None, data: bytes
    ) -> None:
        self.calls.append(("fetched", subject, reply, headers, data))

    def routes(self) -> inbound.Routes:
        return inbound.Routes(PREFIX, INBOX_SID, self.deliver, self.deliver_fetched)

    def live(self) -> inbound.Routes:
        def deliver(subject: bytes, headers: bytes | None, data: bytes) -> None:
            self.calls.append(("live", subject, headers, data))

        def deliver_fetched(
            subject: bytes, reply: bytes, headers: bytes | None, data: bytes
        ) -> None:
            self.calls.append(("live-fetched", subject, reply, headers, data))

        return inbound.Routes(LIVE, LIVE_SID, deliver, deliver_fetched)


def expected_calls(data: bytes, *, live: bool = False) -> list[tuple[Any, ...]]:
    """nats-py's own parser on the whole input, with the routed messages taken aside."""
    recorder = Recorder()
    routes = [recorder.live(), recorder.routes()] if live else [recorder.routes()]
    fake: Any = SimpleNamespace()
    recorder.install_on(fake)
    plain = fake._process_msg

    async def process_msg(sid: int, subject: bytes, reply: bytes, payload: bytes, hdr: Any) -> None:
        if not any(route.take(sid, subject, reply, payload, hdr) for route in routes):
            await plain(sid, subject, reply, payload, hdr)

    fake._process_msg = process_msg
    asyncio.run(nats_parser.Parser(fake).parse(data))
    return recorder.calls


class Connection:
    """A nats-py connection whose transport's reader is fed by the test, read by a loop like
    nats-py's ``_read_loop`` (read a chunk, parse it). Made on the running loop."""

    def __init__(self, *, live: bool = False) -> None:
        self.recorder = Recorder()
        self.nc = NatsConnection()
        self.recorder.install_on(self.nc)
        self.reader = asyncio.StreamReader()
        self.nc._transport = SimpleNamespace(_io_reader=self.reader)  # type: ignore[assignment]
        inbound.install(self.nc, self.recorder.routes())
        if live:
            inbound.install(self.nc, self.recorder.live())

    async def read_loop(self) -> None:
        while True:
            chunk = await self.reader.read(64)  # small reads: the reader keeps a backlog
            if not chunk:
                return
            await self.nc._ps.parse(chunk)


subjects = st.sampled_from(
    [b"foo.bar", PREFIX + b"1", PREFIX + b"22", LIVE + b"3", b"s.acme.Run.x"]
)
replies_ = st.sampled_from([b"", b"_INBOX.r.1", ACK])
payloads = st.binary(max_size=40) | st.sampled_from([b"MSG x 1 2\r\n", b"PING\r\n"])
header_blocks = st.sampled_from(
    [b"NATS/1.0\r\nA: b\r\n\r\n", b"NATS/1.0 404 No Messages\r\n\r\n", b"NATS/1.0\r\n\r\n"]
)
operations = st.one_of(
    st.builds(msg, subjects, st.sampled_from([1, INBOX_SID, LIVE_SID]), replies_, payloads),
    st.builds(
        hmsg, subjects, st.sampled_from([1, INBOX_SID, LIVE_SID]), replies_, header_blocks, payloads
    ),
    st.just(b"PING\r\n"),
    st.just(b"PONG\r\n"),
    st.just(b"+OK\r\n"),
)


@settings(max_examples=300)
@given(st.lists(operations, max_size=12), st.data(), st.booleans())
def test_chunks_fed_at_any_moment_are_read_in_order_as_nats_py_reads_them(
    ops: list[bytes], data: st.DataObject, live: bool
) -> None:
    """With one set of routes, or two installed on the same connection."""
    stream = b"".join(ops)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    # Loop steps between two chunks: the read loop may be waiting, busy, or not yet woken.
    steps = data.draw(st.lists(st.integers(0, 3), min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    made: list[Connection] = []

    async def run() -> None:
        connection = Connection(live=live)
        made.append(connection)
        await connection.nc._ps.parse(b"")  # the read loop's first pass hooks the reader
        loop = asyncio.get_running_loop().create_task(connection.read_loop())
        last = 0
        for cut, step in zip([*cuts, len(stream)], steps, strict=True):
            connection.reader.feed_data(stream[last:cut])
            last = cut
            for _ in range(step):
                await asyncio.sleep(0)
        connection.reader.feed_eof()
        await loop

    asyncio.run(run())
    [connection] = made
    assert connection.recorder.calls == expected_calls(stream, live=live)
    assert not connection.nc._ps.buf


def test_routed_messages_of_a_chunk_are_handed_over_as_it_arrives() -> None:
    made: list[Connection] = []
    taken: list[list[tuple[Any, ...]]] = []

    async def run() -> None:
        connection = Connection(live=True)
        made.append(connection)
        await connection.nc._ps.parse(b"")
        loop = asyncio.get_running_loop().create_task(connection.read_loop())
        await asyncio.sleep(0)  # the read loop waits for data
        connection.reader.feed_data(
            hmsg(PREFIX + b"1", INBOX_SID, b"", b"NATS/1.0\r\n\r\n", b"r")
            + hmsg(b"s.acme.Run.x", INBOX_SID, ACK, b"NATS/1.0\r\nA: b\r\n\r\n", b"")
            + msg(LIVE + b"1", LIVE_SID, b"", b"l")
            + msg(b"foo.bar", 1, b"", b"p")  # nats-py's: from here on, the read loop's
            + msg(PREFIX + b"2", INBOX_SID, b"", b"q")
        )
        taken.append(list(connection.recorder.calls))  # before the loop ran at all
        connection.reader.feed_eof()
        await loop

    asyncio.run(run())
    [connection] = made
    assert [call[0] for call in taken[0]] == ["bulk", "fetched", "live"]
    assert taken[0][1][1:] == (b"s.acme.Run.x", ACK, b"NATS/1.0\r\nA: b\r\n\r\n", b"")
    assert [call[0] for call in connection.recorder.calls] == [
        "bulk",
        "fetched",
        "live",
        "msg",
        "bulk",
    ]


def test_a_chunk_that_comes_while_the_reader_holds_input_waits_behind_it() -> None:
    made: list[Connection] = []
    taken: list[list[tuple[Any, ...]]] = []

    async def run() -> None:
        connection = Connection()
        made.append(connection)
        await connection.nc._ps.parse(b"")
        loop = asyncio.get_running_loop().create_task(connection.read_loop())
        await asyncio.sleep(0)
        connection.reader.feed_data(b"PING\r\n")  # for the read loop, not run yet
        connection.reader.feed_data(msg(PREFIX + b"1", INBOX_SID, b"", b"r"))
        taken.append(list(connection.recorder.calls))
        connection.reader.feed_eof()
        await loop

    asyncio.run(run())
    [connection] = made
    assert taken[0] == []
    assert [call[0] for call in connection.recorder.calls] == ["ping", "bulk"]


def test_a_malformed_message_line_is_left_to_the_read_loop() -> None:
    made: list[Connection] = []

    async def run() -> None:
        connection = Connection()
        made.append(connection)
        await connection.nc._ps.parse(b"")
        loop = asyncio.get_running_loop().create_task(connection.read_loop())
        await asyncio.sleep(0)
        connection.reader.feed_data(b"MSG only-a-subject\r\n")
        await loop

    with pytest.raises(ProtocolError):
        asyncio.run(run())


@pytest.mark.parametrize("routes_added_after_the_hook", [False, True])
def test_a_chunk_that_comes_while_the_read_loop_dispatches_waits_for_it(
    routes_added_after_the_hook: bool,
) -> None:
    """Also when the reader was hooked before a second set of routes wrapped the parser (the
    read loop is then inside the later wrapper only)."""
    made: list[Connection] = []

    async def run() -> None:
        connection = Connection()
        made.append(connection)
        await connection.nc._ps.parse(b"")
        if routes_added_after_the_hook:
            inbound.install(connection.nc, connection.recorder.live())
        loop = asyncio.get_running_loop().create_task(connection.read_loop())
        await asyncio.sleep(0)
        gate = connection.recorder.gate = asyncio.Event()
        connection.reader.feed_data(b"PONG\r\n" + msg(b"foo.bar", 1, b"", b"p"))
        for _ in range(3):  # the read loop is inside nats-py's dispatch of foo.bar, buffers empty
            await asyncio.sleep(0)
        connection.reader.feed_data(msg(PREFIX + b"1", INBOX_SID, b"", b"r"))
        gate.set()
        connection.reader.feed_eof()
        await loop

    asyncio.run(run())
    [connection] = made
    assert [call[0] for call in connection.recorder.calls] == ["pong", "msg", "bulk"]
