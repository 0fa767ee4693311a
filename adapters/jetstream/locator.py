"""Where an aggregate's events are, found from its id alone: its aggregate record.

Events are stored on ``<prefix>.<tenant>.<aggregate type>.<aggregate id>``, but loading an
aggregate knows only its id. Reading with the filter ``<prefix>.*.*.<id>`` made nats-server walk
every tenant and type of its subject tree on each load and each append (and, being a wildcard,
scan blocks message by message): decision 0009. So each aggregate has a record in a companion
stream, on the literal subject ``<prefix>_aggregates.<id>``, naming ``<tenant>.<type>``. It is
stored before the aggregate's first event, and all of the aggregate's events go to that one
subject: a load is a lookup of one literal subject, then a read of another, whatever the number
of tenants and subjects. A record never changes, so what it says is cached in the position
index. (Not in the events stream itself: notification ids are that stream's sequence numbers,
which the library expects to be the events' alone.)

An events stream written before records existed (no ``STREAM_METADATA`` in its configuration)
is read and written as before, with the wildcard, until ``backfill`` gives its aggregates
records and marks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from adapters.jetstream import headers as h
from adapters.jetstream import replies
from adapters.jetstream.client import NatsClient
from adapters.jetstream.framing import Frame
from adapters.jetstream.positions import PositionIndex

# Metadata of an events stream whose every aggregate has a record (streams created with
# records, or after ``backfill``): an aggregate without a record has no events there. Its
# value: when the records stream was made.
STREAM_METADATA: Final = "cairn_aggregate_records"

_SUBJECT_LINE: Final = h.AGGREGATE_SUBJECT.encode() + b": %s\r\n"
_EXPECTED_LINE: Final = h.EXPECTED_LAST_SUBJECT_SEQ.encode() + b": %d\r\n"
_AGGREGATE_SUBJECT: Final = replies.header_key(h.AGGREGATE_SUBJECT)


def records_stream(stream: str) -> str:
    return f"{stream}_aggregates"


def records_prefix(prefix: str) -> str:
    return f"{prefix}_aggregates"


class Locator:
    """Finds (and remembers) the subject of each aggregate's events in one stream."""

    def __init__(
        self,
        client: NatsClient,
        stream: str,
        prefix: str,
        index: PositionIndex,
        *,
        records_complete: bool,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.index = index
        self.records_complete = records_complete
        self.records_stream = records_stream(stream)
        self._records_prefix = records_prefix(prefix)
        self._event_start, self._event_tokens = f"{prefix}.", prefix.count(".") + 4

    def observe_event_subject(self, subject: str) -> None:
        """Learn an aggregate's subject from one of its events' (a consumer's delivery): its
        events are stored on its record's subject only, so a later load of it need not read
        the record (a direct get). Unused where the stream has no records yet."""
        tokens = subject.split(".")
        if len(tokens) != self._event_tokens or not subject.startswith(self._event_start):
            return
        key = tokens[-1]
        if self.index.subject(key) is None:
            self.index.observe_subject(key, f"{tokens[-3]}.{tokens[-2]}")

    def record_subject(self, key: str) -> str:
        return f"{self._records_prefix}.{key}"

    def event_subject(self, key: str, tail: str) -> str:
        return f"{self.prefix}.{tail}.{key}"

    def wildcard(self, key: str) -> str:
        """Every event subject of one id: for aggregates without a single subject of record."""
        return f"{self.prefix}.*.*.{key}"

    def known_tail(self, key: str) -> str | None:
        """What is known here of the aggregate's subject, without asking the server."""
        if not self.records_complete:
            return h.SEVERAL_SUBJECTS
        return self.index.subject(key)

    def tail(self, key: str) -> str | None:
        """``<tenant>.<type>`` of the aggregate's subject (``*``: several, or a stream without
        records), None when the aggregate has no record, so no events."""
        tail = self.known_tail(key)
        if tail is not None:
            return tail
        query = {"last_by_subj": self.record_subject(key)}
        msg = self.client.direct_get(self.records_stream, query)
        if msg is None:
            return None
        tail = (msg.headers or {})[h.AGGREGATE_SUBJECT]
        self.index.observe_subject(key, tail)
        return tail

    def without_records(self, keys: Sequence[str]) -> set[str]:
        """Which of these aggregates have no record, so no events, from one request: a batched
        direct get of their records' last messages (``multi_last``, nats-server 2.11+). The
        records found are remembered like ``tail``'s; an absence is not (the aggregate may be
        created next). Nothing is known absent in a stream without records."""
        unknown = [key for key in dict.fromkeys(keys) if self.known_tail(key) is None]
        if not unknown:
            return set()
        subjects = [self.record_subject(key) for key in unknown]
        body = {"multi_last": subjects, "batch": len(subjects)}
        page = self.client.request_page(self.records_stream, body, _record_tails).result()
        found = set()
        start = len(self._records_prefix) + 1
        for subject, tail in page.items:
            key = subject[start:]
            self.index.observe_subject(key, tail)
            found.add(key)
        return {key for key in unknown if key not in found}

    def events_filter(self, key: str) -> str | None:
        """The subject filter of the aggregate's events; None when it has none."""
        tail = self.tail(key)
        if tail is None:
            return None
        if tail == h.SEVERAL_SUBJECTS:
            return self.wildcard(key)
        return self.event_subject(key, tail)

    def record_frame(self, key: str, tail: str, base: bytes, expected: int = 0) -> Frame:
        """An aggregate's record: stored once (expected sequence 0) for a new aggregate."""
        headers = base + _SUBJECT_LINE % tail.encode() + _EXPECTED_LINE % expected
        return (self.record_subject(key).encode(), headers, b"")


def _record_tails(messages: list[replies.RawMsg]) -> list[tuple[str, str]]:
    """(record subject, ``<tenant>.<type>``) of each record of a batched direct get."""
    tails = []
    for block, _ in messages:
        subject = replies.subject_of(block)
        tail = replies.text(block, _AGGREGATE_SUBJECT)
        if subject is not None and tail is not None:
            tails.append((subject, tail))
    return tails
