"""Open pull requests of a work consumer: what they still owe, their deliveries, their ending
statuses and the acks written back, those nothing waits for with the next write (no server:
what the connection's reader would hand in is handed in, what would be written is
collected)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.jetstream import pulls as pulls_module
from adapters.jetstream.pulls import Pulls

pytestmark = pytest.mark.unit

HEADERS = b"NATS/1.0\r\nCairn-Topic: domain.runs.run:Run.PlanProposed\r\nCairn-Tenant: t1\r\n\r\n"


class FakeConnection:
    """What nats-py's connection offers the raw writes: a pending buffer and a transport
    (``written``: each write queued, in the order the transport was given them)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self._pending: list[bytes] = []
        self._pending_data_size = 0
        self._flush_queue = None
        self.is_connected = True
        self._transport = self

    def writelines(self, data: list[bytes]) -> None:
        self.written.extend(data)

    async def flush(self) -> None:
        return None


class Harness:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.nc = FakeConnection()
        connection: Any = self.nc
        self.delivered: list[tuple[bytes, bytes, bytes | None]] = []
        self.changes = 0
        self.pulls = Pulls(
            connection,
            "S",
            "S_workers",
            expires=2.0,
            on_delivery=self._delivered,
            on_change=self._changed,
        )

    def _delivered(self, subject: bytes, reply: bytes, headers: bytes | None) -> None:
        self.delivered.append((subject, reply, headers))

    def _changed(self) -> None:
        self.changes += 1

    def on_loop(self, action: Any) -> None:
        async def act() -> None:
            action()
            for _ in range(3):  # the queued write, then its task
                await asyncio.sleep(0)

        self.loop.run_until_complete(act())

    def deliver(self, seq: int, delivered: int = 1) -> None:
        reply = b"$JS.ACK.S.S_workers.%d.%d.%d.1700000000.3" % (delivered, seq, seq)
        self.on_loop(lambda: self.pulls._got(b"ev.t1.Run.r1", reply, HEADERS, b""))

    def status(self, line: bytes) -> None:
        self.on_loop(lambda: self.pulls._status(self.pulls.inbox.encode(), line, b""))


@pytest.fixture
def harness() -> Iterator[Harness]:
    made = Harness()
    yield made
    made.loop.close()


def test_a_pull_asks_for_a_batch_that_stays_open_until_it_expires(harness: Harness) -> None:
    harness.on_loop(lambda: harness.pulls.pull(5))

    assert harness.pulls.asked == 5
    [written] = harness.nc.written
    head, body, _ = written.split(b"\r\n")
    assert head.split()[:3] == [
        b"PUB",
        b"$JS.API.CONSUMER.MSG.NEXT.S.S_workers",
        harness.pulls.inbox.encode(),
    ]
    assert json.loads(body) == {"batch": 5, "expires": 2_000_000_000}


def test_each_delivery_is_handed_over_raw_and_owed_one_less(harness: Harness) -> None:
    harness.on_loop(lambda: harness.pulls.pull(2))
    harness.deliver(seq=41, delivered=3)

    [(subject, reply, headers)] = harness.delivered
    assert subject == b"ev.t1.Run.r1"
    assert headers == HEADERS  # decoded by the caller, only if it needs to
    assert reply.startswith(b"$JS.ACK.S.S_workers.3.41.")
    assert harness.pulls.asked == 1
    assert harness.changes == 1


def test_an_expired_request_gives_back_what_it_still_owed(harness: Harness) -> None:
    harness.on_loop(lambda: harness.pulls.pull(4))
    harness.on_loop(lambda: harness.pulls.pull(3))
    harness.deliver(seq=1)
    harness.status(
        b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 0\r\n\r\n"
    )

    assert harness.pulls.asked == 3  # 7 asked, 1 came, 3 expired
    assert not harness.pulls.refused
    assert harness.changes == 2


def test_a_status_that_names_no_count_ends_every_open_request(harness: Harness) -> None:
    harness.on_loop(lambda: harness.pulls.pull(4))
    harness.status(b"NATS/1.0 409 Consumer Deleted\r\n\r\n")

    assert harness.pulls.asked == 0
    assert harness.pulls.refused  # asked again only after a pause


def test_heartbeats_change_nothing(harness: Harness) -> None:
    harness.on_loop(lambda: harness.pulls.pull(4))
    harness.status(b"NATS/1.0 100 Idle Heartbeat\r\n\r\n")

    assert harness.pulls.asked == 4
    assert harness.changes == 0


def test_a_delivery_whose_handling_raises_does_not_stop_the_reader(harness: Harness) -> None:
    def refuse(subject: bytes, reply: bytes, headers: bytes | None) -> None:
        raise ValueError(reply)

    harness.pulls._on_delivery = refuse
    harness.on_loop(lambda: harness.pulls.pull(2))
    harness.on_loop(lambda: harness.pulls._got(b"ev.x", b"$JS.ACK.bad", HEADERS, b""))
    harness.deliver(seq=2)  # the next one is taken as usual

    assert harness.pulls.asked == 0


def test_acks_queued_together_are_written_together_without_reply_subjects(
    harness: Harness,
) -> None:
    def answer() -> None:
        harness.pulls.ack(b"$JS.ACK.a")
        harness.pulls.ack(b"$JS.ACK.b")
        harness.pulls.progress(b"$JS.ACK.c")
        harness.pulls.nak(b"$JS.ACK.d", 2.5)

    harness.on_loop(answer)

    [written] = harness.nc.written
    assert written == (
        b"PUB $JS.ACK.a 4\r\n+ACK\r\n"
        b"PUB $JS.ACK.b 4\r\n+ACK\r\n"
        b"PUB $JS.ACK.c 4\r\n+WPI\r\n"
        b'PUB $JS.ACK.d 26\r\n-NAK {"delay": 2500000000}\r\n'
    )


def test_acks_nothing_waits_for_go_with_the_next_write(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulls_module, "ACK_LINGER_S", 60.0)  # not due during this test
    harness.on_loop(lambda: harness.pulls.ack_with_next(b"$JS.ACK.a"))
    harness.on_loop(lambda: harness.pulls.ack_with_next(b"$JS.ACK.b"))
    assert harness.nc.written == []  # two read passes, nothing written yet

    harness.on_loop(lambda: harness.pulls.ack(b"$JS.ACK.c"))

    assert harness.nc.written == [
        b"PUB $JS.ACK.a 4\r\n+ACK\r\nPUB $JS.ACK.b 4\r\n+ACK\r\nPUB $JS.ACK.c 4\r\n+ACK\r\n"
    ]


def test_acks_nothing_waits_for_are_written_alone_after_a_while(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulls_module, "ACK_LINGER_S", 0.001)
    harness.on_loop(lambda: harness.pulls.ack_with_next(b"$JS.ACK.a"))

    async def linger() -> None:
        await asyncio.sleep(0.05)  # the write is due before this sleep ends

    harness.loop.run_until_complete(linger())

    assert harness.nc.written == [b"PUB $JS.ACK.a 4\r\n+ACK\r\n"]
    harness.on_loop(lambda: harness.pulls.ack(b"$JS.ACK.b"))  # a write of its own now
    assert harness.nc.written[1:] == [b"PUB $JS.ACK.b 4\r\n+ACK\r\n"]


def test_lingering_acks_are_written_by_a_flush(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulls_module, "ACK_LINGER_S", 60.0)
    harness.on_loop(lambda: harness.pulls.ack_with_next(b"$JS.ACK.a"))
    harness.loop.run_until_complete(harness.pulls.flush())

    assert harness.nc.written == [b"PUB $JS.ACK.a 4\r\n+ACK\r\n"]


def test_forgetting_the_open_requests_asks_for_nothing_more(harness: Harness) -> None:
    harness.on_loop(lambda: harness.pulls.pull(8))
    harness.pulls.forget()

    assert harness.pulls.asked == 0
