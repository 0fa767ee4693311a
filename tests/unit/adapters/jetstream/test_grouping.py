"""Which queued saves group commit puts into one atomic batch (no server needed)."""

from __future__ import annotations

import concurrent.futures
from collections import deque

import pytest

from adapters.jetstream.appends import GroupCommit
from adapters.jetstream.batches import MAX_BATCH
from adapters.jetstream.queued import QueuedSave, StreamQueue

pytestmark = pytest.mark.unit


def client(max_group: int = MAX_BATCH) -> GroupCommit:
    made = GroupCommit.__new__(GroupCommit)  # no connection: only the grouping is used
    made._max_group = max_group
    return made


def save(messages: int, *keys: str) -> QueuedSave:
    frames = [(b"s", b"", b"")] * messages
    return QueuedSave("stream", frames, frozenset(keys), concurrent.futures.Future())


def test_saves_on_disjoint_keys_share_a_batch_up_to_its_size() -> None:
    saves = [save(300, "a"), save(300, "b"), save(300, "c"), save(300, "d")]
    pending = deque(saves)
    assert client()._take_group(pending) == saves[:3]
    assert list(pending) == saves[3:]


def test_a_shared_key_keeps_a_save_for_a_later_batch_in_order() -> None:
    first, same, other, same_again = save(1, "a"), save(1, "a", "b"), save(1, "c"), save(1, "a")
    pending = deque([first, same, other, same_again])
    assert client()._take_group(pending) == [first, other]
    assert list(pending) == [same, same_again]
    assert client()._take_group(pending) == [same]
    assert client()._take_group(pending) == [same_again]


def test_a_save_too_large_to_join_waits_and_smaller_later_ones_join() -> None:
    big, huge, small = save(600, "a"), save(500, "b"), save(400, "c")
    pending = deque([big, huge, small])
    assert client()._take_group(pending) == [big, small]
    assert list(pending) == [huge]


def test_saves_whose_callers_gave_up_are_dropped() -> None:
    gone, kept, gone_too, later = save(1, "a"), save(1, "b"), save(1, "c"), save(1, "d")
    gone.future.cancel()
    gone_too.future.cancel()
    pending = deque([gone, kept, gone_too, later])
    assert client()._take_group(pending) == [kept, later]
    assert not pending


def test_without_group_commit_each_save_is_alone() -> None:
    saves = [save(1, "a"), save(1, "b")]
    pending = deque(saves)
    assert client(max_group=0)._take_group(pending) == saves[:1]
    assert client(max_group=0)._take_group(pending) == saves[1:]


class _Clock:
    def time(self) -> float:
        return 100.0


def test_answered_callers_are_awaited_where_they_append_next() -> None:
    """A new aggregate's record is followed by its events: the events stream's next batch
    waits for those callers (the linger), the records stream's does not."""
    made = client()
    made._linger_for, made._loop, made._queues = 0.005, _Clock(), {}  # type: ignore[assignment]
    records = made._queues["records"] = StreamQueue()
    future: concurrent.futures.Future[dict[str, object]] = concurrent.futures.Future()
    record = QueuedSave("records", [(b"r", b"", b"")], frozenset("a"), future, "events")
    made._expect_back(records, [record, record])
    assert records.returning == 0
    events = made._queues["events"]
    assert (events.returning, events.linger_until) == (2, 100.005)

    stream = StreamQueue()  # callers that append to the same stream next, as before
    made._expect_back(stream, [save(1, "a"), save(1, "b"), save(1, "c")])
    assert (stream.returning, stream.linger_until) == (3, 100.005)
