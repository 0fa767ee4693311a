"""How a request is written (``requests``): the bytes nats-py's ``publish`` would queue, written
at the end of the loop pass; a request nats-py would refuse still goes to nats-py, and its
caller gets nats-py's refusal (no server: a connection with a recording transport)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import pytest
from nats.aio.client import Client as NatsConnection
from nats.protocol.command import pub_cmd

from adapters.jetstream.errors import EventStoreUnavailable
from adapters.jetstream.inbox import Inbox, Reply
from adapters.jetstream.requests import Requests

pytestmark = pytest.mark.unit


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def writelines(self, data: list[bytes]) -> None:
        self.written.extend(data)


def sent(subject: str, payload: bytes) -> tuple[list[bytes], Any, str]:
    """Send one request on a connected connection; what its transport was given, the
    request's future once the loop ran, and its reply subject."""
    inbox = Inbox()
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    async def run() -> list[bytes]:
        nc: Any = NatsConnection()
        transport = Transport()
        nc._transport = transport
        nc._status = NatsConnection.CONNECTED
        nc._max_payload = 1024
        requests = Requests(nc, asyncio.get_running_loop(), inbox, url="nats://x", timeout=1)
        reply = Reply(future, multi=False, write=False, count=False)
        requests._send("0", subject, payload, None, reply)
        for _ in range(3):
            await asyncio.sleep(0)
        return transport.written

    written = asyncio.run(run())
    return written, future, inbox.prefix + "0"


def test_a_request_is_written_as_nats_py_writes_it() -> None:
    written, future, reply = sent("$JS.API.DIRECT.GET.S", b'{"last_by_subj":"S.a"}')
    assert written == [pub_cmd("$JS.API.DIRECT.GET.S", reply, b'{"last_by_subj":"S.a"}')]
    assert not future.done()  # waiting for its reply


def test_a_request_nats_py_refuses_fails_as_before() -> None:
    written, future, _ = sent("$JS.API.bad subject", b"")
    assert written == []
    with pytest.raises(EventStoreUnavailable):
        future.result(0)
