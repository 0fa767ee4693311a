"""The private API of nats-py that adapters/jetstream/nats_internals relies on is still there.

Each test names the API it checks: when one fails after an upgrade of nats-py, that module
must be adapted (or the upgrade left alone) before the pin in pyproject.toml is widened.
"""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import version

import pytest
from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.aio.transport import TcpTransport
from nats.protocol import parser as nats_parser

from adapters.jetstream import nats_internals

pytestmark = pytest.mark.unit

CHECKED_ON = "2.16."  # the nats-py minor version these pins were checked on


def gone(api: str, user: str) -> str:
    return (
        f"nats-py {version('nats-py')} no longer has {api}, which "
        f"adapters/jetstream/nats_internals/{user} relies on: adapt it before upgrading"
    )


def test_the_installed_nats_py_is_the_version_these_pins_were_checked_on() -> None:
    assert version("nats-py").startswith(CHECKED_ON), (
        f"nats-py {version('nats-py')} is installed, the internals were checked on "
        f"{CHECKED_ON}x: run this file, then update CHECKED_ON and the pin in pyproject.toml"
    )


def test_raw_writes_queue_bytes_the_way_publish_does() -> None:
    nc = NatsConnection()
    assert hasattr(nc, "_flush_queue"), gone("Client._flush_queue", "raw.py")
    assert isinstance(getattr(nc, "_pending", None), list), gone("Client._pending", "raw.py")
    assert getattr(nc, "_pending_data_size", None) == 0, gone("Client._pending_data_size", "raw.py")
    assert hasattr(nc, "_transport"), gone("Client._transport", "raw.py")
    send = inspect.getsource(NatsConnection._send_command)
    assert "self._pending.append(" in send and "_pending_data_size" in send, gone(
        "Client._send_command queuing on Client._pending", "raw.py"
    )
    flusher = inspect.getsource(NatsConnection._flusher)
    assert "self._transport.writelines(self._pending" in flusher, gone(
        "the flusher writing Client._pending with Transport.writelines", "raw.py"
    )


def test_the_reader_that_received_hooks() -> None:
    source = inspect.getsource(TcpTransport)
    assert "self._io_reader" in source and "open_connection" in source, gone(
        "TcpTransport._io_reader (the StreamReader of asyncio.open_connection)", "received.py"
    )
    loop = asyncio.new_event_loop()
    try:
        reader = asyncio.StreamReader(loop=loop)
    finally:
        loop.close()
    assert isinstance(getattr(reader, "_buffer", None), bytearray), gone(
        "asyncio.StreamReader._buffer", "received.py"
    )
    assert "reader.feed_data(data)" in inspect.getsource(
        asyncio.StreamReaderProtocol.data_received
    ), gone("StreamReaderProtocol.data_received calling reader.feed_data", "received.py")


def test_a_subscription_carries_its_sid() -> None:
    nc = NatsConnection()
    subscription = Subscription(nc, 42, "s")
    assert getattr(subscription, "_id", None) == 42, gone("Subscription._id", "raw.py")
    assert nats_internals.sid_of(subscription) == 42


def test_a_message_is_made_with_its_connection() -> None:
    nc = NatsConnection()
    fields = getattr(Msg, "__dataclass_fields__", {})
    assert "_client" in fields, gone("the Msg._client field", "raw.py")
    made = nats_internals.message(nc, "s.t", b"x", {"A": "1"})
    assert (made._client, made.subject, made.data, made.headers) == (nc, "s.t", b"x", {"A": "1"})


def test_the_parser_and_dispatch_that_inbound_wraps() -> None:
    nc = NatsConnection()
    assert isinstance(getattr(nc, "_ps", None), nats_parser.Parser), gone(
        "Client._ps (a nats.protocol.parser.Parser)", "inbound.py"
    )
    assert isinstance(nc._ps.buf, bytearray), gone("Parser.buf (a bytearray)", "inbound.py")
    assert hasattr(nats_parser, "AWAITING_CONTROL_LINE"), gone(
        "nats.protocol.parser.AWAITING_CONTROL_LINE", "inbound.py"
    )
    assert nc._ps.state == nats_parser.AWAITING_CONTROL_LINE, gone(
        "Parser.state starting at AWAITING_CONTROL_LINE", "inbound.py"
    )
    assert inspect.iscoroutinefunction(nc._ps.parse), gone("async Parser.parse", "inbound.py")
    assert list(inspect.signature(nc._process_msg).parameters) == [
        "sid",
        "subject",
        "reply",
        "data",
        "headers",
    ], gone("Client._process_msg(sid, subject, reply, data, headers)", "inbound.py")
    # The read loop feeds each chunk to the parser object's parse() (looked up each time).
    source = inspect.getsource(NatsConnection._read_loop)
    assert "self._ps.parse(" in source, gone("Client._read_loop calling _ps.parse", "inbound.py")
    assert "self.nc._process_msg(" in inspect.getsource(nats_parser.Parser.parse), gone(
        "Parser.parse calling Client._process_msg", "inbound.py"
    )


def test_raw_write_hands_the_bytes_to_the_pending_buffer() -> None:
    """``raw.write`` on a connection that is not flushing: the bytes are pending, as a
    ``publish()`` would leave them."""

    async def run() -> list[bytes]:
        nc = NatsConnection()
        nc._flush_queue = asyncio.Queue(maxsize=1024)
        await nats_internals.write(nc, b"PUB s 1\r\nx\r\n")
        await asyncio.sleep(0)  # its write at the end of the pass: not connected, kept
        return list(nc._pending)

    assert asyncio.run(run()) == [b"PUB s 1\r\nx\r\n"], gone(
        "Client._pending filled by Client._send_command", "raw.py"
    )
