"""The faster reading of a nats-py connection's input: the same calls as nats-py's own parser,
bulk replies routed aside (no I/O). What it relies on of nats-py is pinned by test_pins.py."""

from __future__ import annotations

import asyncio
import json
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


class Recorder:
    """What a connection was asked to do, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def install_on(self, nc: Any) -> None:
        async def process_msg(*args: Any) -> None:
            self.calls.append(("msg", *args))

        async def process_ping() -> None:
            self.calls.append(("ping",))

        async def process_pong() -> None:
            self.calls.append(("pong",))

        async def process_info(info: dict[str, Any]) -> None:
            self.calls.append(("info", info))

        async def process_err(err: str) -> None:
            self.calls.append(("err", err))

        nc._process_msg = process_msg
        nc._process_ping = process_ping
        nc._process_pong = process_pong
        nc._process_info = process_info
        nc._process_err = process_err

    def deliver(self, subject: bytes, headers: bytes | None, data: bytes) -> None:
        self.calls.append(("bulk", subject, headers, data))

    def deliver_fetched(
        self, subject: bytes, reply: bytes, headers: bytes | None, data: bytes
    ) -> None:
        self.calls.append(("fetched", subject, reply, headers, data))

    def routes(self) -> inbound.Routes:
        return inbound.Routes(PREFIX, INBOX_SID, self.deliver, self.deliver_fetched)


def expected_calls(data: bytes) -> list[tuple[Any, ...]]:
    """nats-py's own parser on the whole input, with the bulk replies routed aside."""
    recorder = Recorder()
    routes = recorder.routes()

    class Fake:
        pass

    fake = Fake()
    recorder.install_on(fake)
    plain = fake._process_msg  # type: ignore[attr-defined]

    async def process_msg(sid: int, subject: bytes, reply: bytes, payload: bytes, hdr: Any) -> None:
        if not routes.take(sid, subject, reply, payload, hdr):
            await plain(sid, subject, reply, payload, hdr)

    fake._process_msg = process_msg  # type: ignore[attr-defined]
    asyncio.run(nats_parser.Parser(fake).parse(data))
    return recorder.calls


def calls_in_chunks(data: bytes, cuts: list[int]) -> list[tuple[Any, ...]]:
    recorder = Recorder()
    nc = NatsConnection()
    recorder.install_on(nc)
    inbound.install(nc, recorder.routes())

    async def feed() -> None:
        last = 0
        for cut in [*sorted(cuts), len(data)]:
            await nc._ps.parse(data[last:cut])
            last = cut

    asyncio.run(feed())
    assert not nc._ps.buf
    return recorder.calls


subjects = st.sampled_from(
    [b"foo.bar", PREFIX + b"1", PREFIX + b"22", b"_INBOX.abc.5", b"s.acme.Run.x"]
)
replies_ = st.sampled_from([b"", b"_INBOX.r.1", b"$JS.ACK.s.c1.1.42.7.17.5"])
payloads = st.binary(max_size=60) | st.sampled_from([b"MSG x 1 2\r\n", b"\r\n\r\n", b"PING\r\n"])
header_blocks = st.sampled_from(
    [
        b"NATS/1.0\r\nA: b\r\n\r\n",
        b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 3\r\n\r\n",
        b"NATS/1.0 404 No Messages\r\n\r\n",
        b"NATS/1.0\r\nCairn-Topic: m:A.B\r\nNats-Sequence: 9\r\n\r\n",
    ]
)
operations = st.one_of(
    st.builds(msg, subjects, st.sampled_from([1, INBOX_SID]), replies_, payloads),
    st.builds(hmsg, subjects, st.sampled_from([1, INBOX_SID]), replies_, header_blocks, payloads),
    st.just(b"PING\r\n"),
    st.just(b"PONG\r\n"),
    st.just(b"+OK\r\n"),
    st.just(b"-ERR 'Stale Connection'\r\n"),
    st.builds(
        lambda port: b"INFO " + json.dumps({"server_id": "x", "port": port}).encode() + b"\r\n",
        st.integers(1, 9),
    ),
)


@settings(max_examples=300)
@given(st.lists(operations, max_size=12), st.data())
def test_any_input_in_any_chunks_is_read_as_nats_py_reads_it(
    ops: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(ops)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    assert calls_in_chunks(stream, cuts) == expected_calls(stream)


def test_bulk_replies_and_consumer_deliveries_go_aside() -> None:
    stream = (
        hmsg(PREFIX + b"1", INBOX_SID, b"", b"NATS/1.0\r\nA: b\r\n\r\n", b"p1")
        + hmsg(b"s.acme.Run.x", INBOX_SID, b"$JS.ACK.s.c.1.2.3.4.5", b"NATS/1.0\r\n\r\n", b"p2")
        + hmsg(b"s.acme.Run.x", 3, b"$JS.ACK.s.c.1.2.3.4.5", b"NATS/1.0\r\n\r\n", b"p3")
        + msg(b"_INBOX.abc.5", INBOX_SID, b"", b"p4")
    )
    calls = calls_in_chunks(stream, [5, 40])
    assert [call[0] for call in calls] == ["bulk", "fetched", "msg", "msg"]
    assert calls[1][1:] == (b"s.acme.Run.x", b"$JS.ACK.s.c.1.2.3.4.5", b"NATS/1.0\r\n\r\n", b"p2")


def test_a_malformed_message_line_is_a_protocol_error() -> None:
    nc = NatsConnection()
    Recorder().install_on(nc)
    inbound.install(nc, Recorder().routes())
    with pytest.raises(ProtocolError):
        asyncio.run(nc._ps.parse(b"MSG only-a-subject\r\n"))
    with pytest.raises(ProtocolError):
        asyncio.run(nc._ps.parse(b"GARBAGE\r\n"))
