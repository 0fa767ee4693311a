"""Raw writes (``raw.send``): everything queued on a connection in one loop pass is written
once, at the end of the pass, after what nats-py queued before it; while the connection is
down it stays pending for nats-py (no I/O: a connection with a recording transport)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.aio.client import Client as NatsConnection

from adapters.jetstream.nats_internals import raw

pytestmark = pytest.mark.unit


class Transport:
    def __init__(self) -> None:
        self.writes: list[list[bytes]] = []

    def writelines(self, data: list[bytes]) -> None:
        self.writes.append(list(data))


def connection(connected: bool) -> tuple[Any, Transport]:
    nc: Any = NatsConnection()
    transport = Transport()
    nc._transport = transport
    nc._status = NatsConnection.CONNECTED if connected else NatsConnection.RECONNECTING
    return nc, transport


def test_a_pass_of_writes_is_one_transport_write_after_what_nats_py_queued() -> None:
    async def run() -> tuple[list[list[bytes]], list[list[bytes]], int]:
        nc, transport = connection(connected=True)
        nc._pending.append(b"SUB a 1\r\n")  # queued by nats-py, not flushed yet
        nc._pending_data_size += 9
        raw.send(nc, b"PUB b 0\r\n\r\n")
        await raw.write(nc, b"PUB c 0\r\n\r\n")
        during = list(transport.writes)
        await asyncio.sleep(0)
        return during, transport.writes, nc._pending_data_size

    during, writes, left = asyncio.run(run())
    assert during == []
    assert writes == [[b"SUB a 1\r\n", b"PUB b 0\r\n\r\n", b"PUB c 0\r\n\r\n"]]
    assert left == 0


def test_while_the_connection_is_down_the_bytes_stay_pending_for_nats_py() -> None:
    async def run() -> tuple[list[list[bytes]], list[bytes], int]:
        nc, transport = connection(connected=False)
        raw.send(nc, b"PUB b 0\r\n\r\n")
        await asyncio.sleep(0)
        return transport.writes, nc._pending, nc._pending_data_size

    assert asyncio.run(run()) == ([], [b"PUB b 0\r\n\r\n"], 11)
