"""Bulk reads on the loop: pages of direct gets and consumer fetches, their ends and errors
(no server: the replies are handed in as the connection's reader would)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.jetstream.bulk import BulkReads, PageRequest
from adapters.jetstream.errors import EventStoreUnavailable, JetStreamApiError

pytestmark = pytest.mark.unit

INBOX = "_INBOX.abc.b"


class FakeConnection:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, str]] = []

    async def publish(self, subject: str, payload: bytes, reply: str) -> None:
        self.sent.append((subject, payload, reply))


class Harness:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.fetched: list[int] = []
        self.reads = BulkReads(INBOX, self.loop, self.fetched.append)
        self.nc: Any = FakeConnection()

    def run(self) -> None:
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.run_until_complete(asyncio.sleep(0))

    def direct_get(self, body: dict[str, Any]) -> PageRequest[Any]:
        request = self.reads.request(self.nc, "s", body, 5.0, list)
        self.run()
        return request

    def fetch(self, batch: int) -> PageRequest[Any]:
        request = self.reads.fetch(self.nc, "s", "c1", batch, 5.0, list)
        self.run()
        return request

    def reply(self, request: PageRequest[Any], headers: bytes, data: bytes = b"") -> None:
        self.reads.deliver(INBOX.encode() + request.token, headers, data)

    def delivery(self, seq: int, pending: int, data: bytes) -> None:
        reply = b"$JS.ACK.s.c1.1.%d.%d.17.%d" % (seq, seq, pending)
        self.reads.deliver_fetched(b"s.acme.Run.x", reply, b"NATS/1.0\r\n\r\n", data)


@pytest.fixture
def harness() -> Iterator[Harness]:
    made = Harness()
    yield made
    made.loop.close()


EVENT = b"NATS/1.0\r\nNats-Sequence: 1\r\n\r\n"


def test_a_direct_get_collects_its_messages_until_the_end_of_the_batch(harness: Harness) -> None:
    request = harness.direct_get({"seq": 1, "batch": 2, "next_by_subj": "s.>"})
    ((subject, payload, reply),) = harness.nc.sent
    assert subject == "$JS.API.DIRECT.GET.s"
    assert json.loads(payload) == {"seq": 1, "batch": 2, "next_by_subj": "s.>"}
    assert reply == INBOX + request.token.decode()
    harness.reply(request, EVENT, b"a")
    harness.reply(request, EVENT, b"b")
    assert not request.future.done()
    harness.reply(request, b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 12\r\n\r\n")
    page = request.result()
    assert page.items == [(EVENT, b"a"), (EVENT, b"b")]
    assert page.pending == 12
    assert harness.fetched == [2]


def test_pages_of_requests_in_flight_together_stay_apart(harness: Harness) -> None:
    first = harness.direct_get({"seq": 1, "batch": 1000})
    second = harness.direct_get({"seq": 1001, "batch": 1000})
    harness.reply(first, EVENT, b"1")
    harness.reply(second, EVENT, b"2")
    harness.reply(second, b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\n\r\n")
    harness.reply(first, EVENT, b"3")
    harness.reply(first, b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 1\r\n\r\n")
    assert [data for _, data in first.result().items] == [b"1", b"3"]
    assert [data for _, data in second.result().items] == [b"2"]


def test_nothing_found_is_an_empty_page_and_the_stream_gone_is_unavailable(
    harness: Harness,
) -> None:
    empty = harness.direct_get({"seq": 5, "batch": 10})
    harness.reply(empty, b"NATS/1.0 404 Message Not Found\r\n\r\n")
    assert (empty.result().items, empty.result().pending) == ([], 0)
    for status in (b"503", b"408 Request Timeout"):
        failed = harness.direct_get({"seq": 5, "batch": 10})
        harness.reply(failed, b"NATS/1.0 " + status + b"\r\n\r\n")
        with pytest.raises(EventStoreUnavailable):
            failed.result()
    refused = harness.direct_get({"seq": 5, "batch": 10})
    harness.reply(refused, b"NATS/1.0 400 Bad Request\r\n\r\n")
    with pytest.raises(JetStreamApiError, match="400 Bad Request"):
        refused.result()


def test_a_decoding_error_is_the_callers_not_the_loops(harness: Harness) -> None:
    def broken(messages: list[Any]) -> list[Any]:
        raise KeyError("Nats-Sequence")

    request = harness.reads.request(harness.nc, "s", {"seq": 1, "batch": 1}, 5.0, broken)
    harness.run()
    harness.reply(request, EVENT)
    harness.reply(request, b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\n\r\n")
    with pytest.raises(KeyError):
        request.result()


def test_replies_of_cancelled_or_unknown_requests_are_dropped(harness: Harness) -> None:
    request = harness.direct_get({"seq": 1, "batch": 1})
    request.cancel()
    harness.run()
    harness.reply(request, EVENT)
    harness.reads.deliver(INBOX.encode() + b"999", EVENT, b"")
    harness.reads.deliver_fetched(b"x", b"nonsense", None, b"")
    with pytest.raises(EventStoreUnavailable, match="cancelled"):
        request.result()


def test_a_lost_connection_fails_every_read_in_flight(harness: Harness) -> None:
    requests = [harness.direct_get({"seq": 1, "batch": 1}), harness.fetch(10)]
    harness.reads.fail_all(EventStoreUnavailable("lost"))
    for request in requests:
        with pytest.raises(EventStoreUnavailable, match="lost"):
            request.result()


def test_fetches_take_deliveries_in_the_order_they_were_sent(harness: Harness) -> None:
    first, second = harness.fetch(2), harness.fetch(2)
    subject, payload, _ = harness.nc.sent[0]
    assert subject == "$JS.API.CONSUMER.MSG.NEXT.s.c1"
    assert json.loads(payload) == {"batch": 2, "no_wait": True}
    harness.delivery(10, 3, b"a")
    harness.delivery(11, 2, b"b")
    harness.delivery(12, 1, b"c")
    page = first.result()
    assert [data for *_, data in page.items] == [b"a", b"b"]
    assert page.pending == 2
    assert not second.future.done()
    harness.reply(second, b"NATS/1.0 404 No Messages\r\n\r\n")
    page = second.result()
    assert [data for *_, data in page.items] == [b"c"]
    assert page.pending == 0
    assert harness.fetched == [2, 1]


def test_a_dropped_fetch_ends_every_read_of_its_consumer(harness: Harness) -> None:
    first, second = harness.fetch(2), harness.fetch(2)
    harness.delivery(10, 3, b"a")
    first.cancel()
    harness.run()
    harness.delivery(11, 2, b"b")  # still sent for the first: must not land in the second
    with pytest.raises(EventStoreUnavailable):
        second.result()


def test_a_consumer_gone_or_refusing_fails_its_fetch(harness: Harness) -> None:
    gone = harness.fetch(5)
    harness.reply(gone, b"NATS/1.0 503\r\nNats-Subject: x\r\n\r\n")
    with pytest.raises(EventStoreUnavailable):
        gone.result()
    deleted = harness.fetch(5)
    harness.reply(deleted, b"NATS/1.0 409 Consumer Deleted\r\n\r\n")
    with pytest.raises(JetStreamApiError, match="409 Consumer Deleted"):
        deleted.result()


def test_an_asyncio_caller_awaits_its_page_and_gives_up_at_its_deadline(
    harness: Harness,
) -> None:
    """``wait`` on the reads' own loop (the push store): the page, or unavailable in time."""

    async def read() -> Any:
        request = harness.reads.request(harness.nc, "s", {"seq": 1, "batch": 1}, 5.0, list)
        await asyncio.sleep(0)
        harness.reply(request, EVENT, b"a")
        harness.reply(request, b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 3\r\n\r\n")
        return await request.wait()

    page = harness.loop.run_until_complete(read())
    assert (page.items, page.pending) == ([(EVENT, b"a")], 3)

    async def unanswered() -> PageRequest[Any]:
        request = harness.reads.request(harness.nc, "s", {"seq": 1, "batch": 1}, 0.01, list)
        with pytest.raises(EventStoreUnavailable, match="in time"):
            await request.wait()
        return request

    request = harness.loop.run_until_complete(unanswered())
    harness.run()
    harness.reply(request, EVENT, b"late")  # dropped: nobody waits for it any more
    assert request.future.cancelled()
