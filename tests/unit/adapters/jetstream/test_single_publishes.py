"""Which groups of saves go as single messages, each with its own answer, and which as one
atomic batch (decision 0053); no server needed."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence
from typing import Any

import pytest

from adapters.jetstream import grouped
from adapters.jetstream.errors import EventStoreOutcomeUnknown
from adapters.jetstream.framing import Frame
from adapters.jetstream.queued import QueuedSave

pytestmark = pytest.mark.unit


class Publisher:
    """Answers each message with the next sequence, except the subjects told to refuse."""

    def __init__(self, refuse: bytes = b"", lost: bytes = b"") -> None:
        self.refuse, self.lost = refuse, lost
        self.batches: list[list[bytes]] = []
        self.singles: list[list[bytes]] = []
        self.seq = 0

    def _answer(self, subject: bytes) -> dict[str, Any]:
        if subject == self.refuse:
            return {"error": {"code": 400, "err_code": 10071}}
        self.seq += 1
        return {"stream": "s", "seq": self.seq}

    async def store(self, stream: str, frames: Sequence[Frame]) -> dict[str, Any]:
        subjects = [subject for subject, _, _ in frames]
        self.batches.append(subjects)
        if self.refuse in subjects:
            return self._answer(self.refuse)
        self.seq += len(frames)
        return {"stream": "s", "seq": self.seq, "count": len(frames)}

    async def store_each(
        self, stream: str, frames: Sequence[Frame]
    ) -> list[dict[str, Any] | Exception]:
        self.singles.append([subject for subject, _, _ in frames])
        return [
            EventStoreOutcomeUnknown("no answer") if subject == self.lost else self._answer(subject)
            for subject, _, _ in frames
        ]


def send(publisher: Publisher, group: list[QueuedSave], max_singles: int = 8) -> None:
    asyncio.run(grouped.send(publisher, group, max_singles))  # type: ignore[arg-type]


def save(*subjects: bytes) -> QueuedSave:
    frames = [(subject, b"", b"") for subject in subjects]
    keys = frozenset(subject.decode() for subject in subjects)
    return QueuedSave("stream", frames, keys, concurrent.futures.Future())


def test_a_few_single_message_saves_go_as_single_messages_each_answered_alone() -> None:
    publisher = Publisher(refuse=b"b", lost=b"d")
    group = [save(b"a"), save(b"b"), save(b"c"), save(b"d")]
    send(publisher, group)
    assert publisher.singles == [[b"a", b"b", b"c", b"d"]]
    assert not publisher.batches
    a, b, c, d = group
    assert a.future.result()["seq"] == 1
    assert b.future.result()["error"]["err_code"] == 10071  # refused alone: a, c stored
    assert c.future.result()["seq"] == 2
    assert isinstance(d.future.exception(), EventStoreOutcomeUnknown)


def test_more_single_message_saves_than_the_limit_share_one_atomic_batch() -> None:
    publisher = Publisher()
    group = [save(bytes([65 + n])) for n in range(9)]
    send(publisher, group)
    assert publisher.batches == [[bytes([65 + n]) for n in range(9)]]
    assert not publisher.singles
    assert [s.future.result()["seq"] for s in group] == list(range(1, 10))


def test_a_save_of_several_messages_takes_the_single_ones_into_its_batch() -> None:
    publisher = Publisher()
    group = [save(b"a"), save(b"p", b"q", b"r"), save(b"b")]
    send(publisher, group)
    assert publisher.batches == [[b"a", b"p", b"q", b"r", b"b"]]
    assert not publisher.singles
    assert [s.future.result()["seq"] for s in group] == [1, 4, 5]


def test_a_refused_batch_is_sent_again_singles_together_and_each_batch_alone() -> None:
    publisher = Publisher(refuse=b"q")
    group = [save(b"a"), save(b"p", b"q"), save(b"b"), save(b"x", b"y")]
    send(publisher, group)
    assert publisher.batches == [[b"a", b"p", b"q", b"b", b"x", b"y"], [b"p", b"q"], [b"x", b"y"]]
    assert publisher.singles == [[b"a", b"b"]]
    assert group[1].future.result()["error"]["err_code"] == 10071
    assert [group[n].future.result()["seq"] for n in (0, 2, 3)] == [1, 2, 4]


def test_without_singles_every_group_is_one_atomic_batch() -> None:
    publisher = Publisher()
    group = [save(b"a"), save(b"b")]
    send(publisher, group, max_singles=0)
    assert publisher.batches == [[b"a", b"b"]]
