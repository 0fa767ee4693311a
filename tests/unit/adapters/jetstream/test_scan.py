"""Scans: pages from direct get or a consumer, pipelined, paused and resumed, always exactly
the messages of the filter in stream order (a stream in memory stands in for the server)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.jetstream import scan
from adapters.jetstream.bulk import Page
from adapters.jetstream.errors import EventStoreUnavailable, JetStreamApiError
from adapters.jetstream.scan import Cursor, Cursors

pytestmark = pytest.mark.unit


class Answered:
    """A read answered when it was sent (as the server answers it then)."""

    def __init__(self, page: Page[Any] | Exception) -> None:
        self.page = page
        self.cancelled = False

    def result(self) -> Page[Any]:
        if isinstance(self.page, Exception):
            raise self.page
        return self.page

    def cancel(self) -> None:
        self.cancelled = True


class Stream:
    """Messages ``(seq, subject)``; a filter ``"e"`` matches subjects starting with ``e.``."""

    def __init__(self, kinds: list[bool]) -> None:
        self.messages: list[tuple[int, str]] = []
        self.append(kinds)
        self.consumers: dict[str, list[Any]] = {}  # name -> [filter, next seq]
        self.names = itertools.count()
        self.direct_gets = 0
        self.fetches = 0
        self.deleted: list[str] = []
        self.fail_fetch_after: int | None = None
        self.refuse_consumers = False

    def append(self, kinds: list[bool]) -> None:
        for event in kinds:
            seq = len(self.messages) + 1
            self.messages.append((seq, f"{'e' if event else 'c'}.{seq}"))

    def matching(self, subject_filter: str, seq: int) -> list[tuple[int, str]]:
        prefix = subject_filter + "."
        return [m for m in self.messages if m[0] >= seq and m[1].startswith(prefix)]

    # The client's interface, as scans use it.

    def request_page(self, stream: str, body: dict[str, Any], decode: Any) -> Answered:
        self.direct_gets += 1
        found = self.matching(body["next_by_subj"], body["seq"])
        page = found[: body["batch"]]
        return Answered(Page(decode(page), len(found) - len(page)))

    def fetch_page(self, stream: str, consumer: str, batch: int, decode: Any) -> Answered:
        self.fetches += 1
        if self.fail_fetch_after is not None and self.fetches > self.fail_fetch_after:
            return Answered(EventStoreUnavailable("consumer gone"))
        state = self.consumers[consumer]
        found = self.matching(state[0], state[1])
        page = found[:batch]
        if page:
            state[1] = page[-1][0] + 1
        return Answered(Page(decode(page), len(found) - len(page)))

    def api(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.refuse_consumers:
            raise JetStreamApiError("maximum consumers limit reached", 400, 10026)
        name = f"c{next(self.names)}"
        config = body["config"]
        assert config["ack_policy"] == "none" and config["mem_storage"]
        self.consumers[name] = [config["filter_subject"], config["opt_start_seq"]]
        return {"name": name}

    def api_nowait(self, subject: str) -> None:
        self.deleted.append(subject.rpartition(".")[2])


def identity(messages: list[Any]) -> list[Any]:
    return list(messages)


def cursor(stream: Stream, start: int, batch: int, *, consumer: bool = True) -> Cursor[Any]:
    made: Cursor[Any] = Cursor(stream, "s", "e", start, batch, identity)  # type: ignore[arg-type]
    made.deliveries = identity if consumer else None
    made.pipeline = True
    return made


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "READ_BATCH", 5)
    monkeypatch.setattr(scan, "CONSUMER_AFTER", 10)


def read(made: Cursor[Any], limit: int | None = None) -> list[int]:
    """What one call reads: up to ``limit`` messages, pausing the cursor where it stops."""
    seqs: list[int] = []
    for page in made.pages():
        for index, (seq, _) in enumerate(page):
            seqs.append(seq)
            if limit is not None and len(seqs) >= limit:
                made.paused(page[index + 1 :])
                return seqs
    return seqs


@settings(max_examples=200)
@given(
    kinds=st.lists(st.booleans(), max_size=80),
    start=st.integers(0, 90),
    batch=st.integers(1, 7),
    pipeline=st.booleans(),
    consumer=st.booleans(),
)
def test_a_scan_reads_exactly_the_matching_messages_in_order(
    kinds: list[bool], start: int, batch: int, pipeline: bool, consumer: bool
) -> None:
    stream = Stream(kinds)
    made = cursor(stream, start, batch, consumer=consumer)
    made.pipeline = pipeline
    assert read(made) == [seq for seq, _ in stream.matching("e", start)]


@settings(max_examples=200)
@given(
    kinds=st.lists(st.booleans(), max_size=60),
    later=st.lists(st.lists(st.booleans(), max_size=12), max_size=5),
    limit=st.integers(1, 13),
)
def test_paused_and_resumed_calls_miss_nothing_stored_meanwhile(
    kinds: list[bool], later: list[list[bool]], limit: int
) -> None:
    """As the reader does: a call that got its ``limit`` leaves its cursor to the next one;
    a call that reached the end does not (the next starts a new cursor after it)."""
    stream = Stream(kinds)
    seqs: list[int] = []
    made: Cursor[Any] | None = None

    def call() -> list[int]:
        nonlocal made
        if made is None:
            made = cursor(stream, seqs[-1] + 1 if seqs else 1, 5)
        got = read(made, limit)
        if len(got) < limit:
            made.close()
            made = None
        return got

    for more in [*later, []]:
        seqs += call()
        stream.append(more)
    while got := call():
        seqs += got
    assert seqs == [seq for seq, _ in stream.matching("e", 1)]


def test_a_long_scan_moves_to_a_consumer_with_two_fetches_in_flight() -> None:
    stream = Stream([True] * 40)
    made = cursor(stream, 1, 5)
    pages = made.pages()
    assert [seq for seq, _ in next(pages)] == [1, 2, 3, 4, 5]
    assert made.consumer == "c0"
    assert stream.consumers["c0"][1] == 16  # created at 6, two fetches of 5 sent
    assert len(made.inflight) == 2
    assert [seq for page in pages for seq, _ in page] == list(range(6, 41))
    made.close()
    assert stream.deleted == ["c0"]


def test_a_short_scan_does_without_a_consumer() -> None:
    stream = Stream([True] * 12)
    assert read(cursor(stream, 1, 5)) == list(range(1, 13))
    assert not stream.consumers


def test_a_failed_consumer_is_dropped_and_the_scan_goes_on_by_direct_get() -> None:
    stream = Stream([True, False] * 30)
    stream.fail_fetch_after = 3
    made = cursor(stream, 1, 5)
    assert read(made) == [seq for seq, _ in stream.matching("e", 1)]
    assert stream.deleted == ["c0"]
    assert made.consumer is None and made.deliveries is None


def test_a_consumer_refused_leaves_the_scan_on_direct_get_for_a_while() -> None:
    stream = Stream([True] * 30)
    stream.refuse_consumers = True
    kept = Cursors()
    assert kept.consumers_allowed()
    made = cursor(stream, 1, 5)
    made.on_refused = kept.refused
    assert read(made) == list(range(1, 31))
    assert stream.fetches == 0
    assert not kept.consumers_allowed()


def test_an_outage_fails_a_fresh_read_but_a_stale_one_is_asked_again() -> None:
    stream = Stream([True] * 8)
    made = cursor(stream, 1, 5, consumer=False)
    lost: Any = Answered(EventStoreUnavailable("lost"))
    made.inflight.append(scan._Sent(lost, fetch=False))
    with pytest.raises(EventStoreUnavailable):
        read(made)
    made = cursor(stream, 1, 5, consumer=False)
    stale: scan._Sent[Any] = scan._Sent(lost, fetch=False)
    stale.fresh = False
    made.inflight.append(stale)
    assert read(made) == list(range(1, 9))


def test_kept_cursors_are_found_by_where_the_next_call_starts() -> None:
    stream = Stream([True] * 20)
    kept = Cursors()
    first, second = cursor(stream, 1, 5), cursor(stream, 1, 5)
    kept.keep(6, 9, first)
    kept.keep(3, 3, second)
    assert kept.take("e", 10) is None
    assert kept.take("x", 7) is None
    assert kept.take("e", 7) is first
    assert kept.take("e", 7) is None
    for number in range(scan.KEPT_CURSORS + 1):
        made = cursor(stream, 1, 5)
        made.consumer = f"old{number}"
        kept.keep(100 + number, 100 + number, made)
    assert stream.deleted == ["old0"]  # the oldest was let go (second was first in line)
    assert kept.take("e", 3) is None


class Counted(Stream):
    """Remembers every message a read asked the server for."""

    def __init__(self, kinds: list[bool]) -> None:
        super().__init__(kinds)
        self.asked: list[int] = []

    def request_page(self, stream: str, body: dict[str, Any], decode: Any) -> Answered:
        answered = super().request_page(stream, body, decode)
        self.asked.extend(seq for seq, _ in answered.result().items)
        return answered

    def fetch_page(self, stream: str, consumer: str, batch: int, decode: Any) -> Answered:
        answered = super().fetch_page(stream, consumer, batch, decode)
        self.asked.extend(seq for seq, _ in answered.result().items)
        return answered


@settings(max_examples=200)
@given(
    size=st.integers(0, 80),
    start=st.integers(1, 40),
    span=st.integers(1, 60),
    consumer=st.booleans(),
)
def test_a_scan_with_a_stop_asks_for_nothing_beyond_it(
    size: int, start: int, span: int, consumer: bool
) -> None:
    """Every message is asked for at most once and none after `stop` (what the server
    reads past it is work for nothing); what the caller keeps is exactly the range."""
    stream = Counted([True] * size)
    stop = start + span - 1
    made = cursor(stream, start, min(5, span), consumer=consumer)
    made.stop = stop
    kept = [seq for page in made.pages() for seq, _ in page if seq <= stop]
    made.close()
    assert kept == list(range(start, min(stop, size) + 1))
    assert sorted(stream.asked) == sorted(set(stream.asked))
    assert all(seq <= stop for seq in stream.asked)
