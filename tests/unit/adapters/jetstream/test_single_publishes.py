"""Which groups of saves go as single messages, each with its own answer, and which as one
atomic batch (decision 0053); no server needed."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence
from typing import Any, cast

import pytest
from nats.aio.msg import Msg

from adapters.jetstream import batches, grouped
from adapters.jetstream.errors import EventStoreOutcomeUnknown
from adapters.jetstream.framing import Frame
from adapters.jetstream.inbox import Inbox
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


class _Reply:
    headers = None

    def __init__(self, subject: str, data: bytes) -> None:
        self.subject, self.data = subject, data


def test_messages_sent_together_go_in_one_write_and_are_announced_once_after_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each message its own reply subject and answer (a refusal, a lost answer: only that
    message's); one signal, with the highest sequence stored, after the answers."""
    inbox = Inbox()
    writes: list[bytes] = []
    answers = [b'{"stream":"s","seq":7}', b'{"error":{"code":400,"err_code":10071}}', None]
    answers.append(b'{"stream":"s","seq":8}')

    async def write(nc: object, data: bytes) -> None:
        writes.append(data)
        if data.startswith(b"HPUB"):
            loop = asyncio.get_running_loop()
            for token, answer in zip(list(inbox.waiting), answers, strict=True):
                if answer is not None:
                    loop.call_soon(inbox.take, cast(Msg, _Reply(inbox.prefix + token, answer)))

    monkeypatch.setattr(batches, "write", write)
    nc = type("Connected", (), {"is_connected": True})()
    publisher = batches.BatchPublisher(nc, inbox, url="nats://x", timeout=0.2)
    publisher.signal_stored("stream", "_cairn_stored.stream")
    frames = [(b"s.%d" % n, b"", b"{}") for n in range(4)]
    got = asyncio.run(publisher.store_each("stream", frames))
    assert got[0] == {"stream": "s", "seq": 7}
    assert isinstance(got[1], dict) and got[1]["error"]["err_code"] == 10071
    assert isinstance(got[2], EventStoreOutcomeUnknown)
    assert got[3] == {"stream": "s", "seq": 8}
    assert len(writes) == 2 and writes[0].count(b"HPUB ") == 4
    assert writes[1] == b"PUB _cairn_stored.stream 1\r\n8\r\n"
    assert not inbox.waiting
