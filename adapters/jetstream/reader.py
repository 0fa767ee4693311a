"""Reading events, notifications and internal records from a stream with direct get."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from nats.aio.msg import Msg

from adapters.jetstream import headers as h
from adapters.jetstream.client import NatsClient
from adapters.jetstream.positions import Position, PositionIndex

READ_BATCH = 1000
SEEK_THRESHOLD = 256  # from this version on, find the start by binary search, not by a scan


def _headers(msg: Msg) -> dict[str, str]:
    return msg.headers or {}


def seq_of(msg: Msg) -> int:
    return int(_headers(msg)[h.NATS_SEQUENCE])


def version_of(msg: Msg) -> int:
    return int(_headers(msg)[h.VERSION])


class StreamReader:
    def __init__(
        self,
        client: NatsClient,
        stream: str,
        prefix: str,
        index: PositionIndex,
        anchors: PositionIndex | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.prefix = prefix
        self.index = index
        # For a snapshot stream: the events stream's index, told where snapshots' versions are.
        self._anchors = anchors
        self.events_filter = f"{prefix}.*.*.*"

    def aggregate_filter(self, key: str) -> str:
        return f"{self.prefix}.*.*.{key}"

    # ---- single messages -------------------------------------------------------------------

    def last_message(self, subject_filter: str) -> Msg | None:
        return self.client.direct_get(self.stream, {"last_by_subj": subject_filter})

    def last_position(self, key: str) -> Position | None:
        """The last stored version of an aggregate and its sequence (also cached)."""
        msg = self.last_message(self.aggregate_filter(key))
        if msg is None:
            return None
        position = Position(version_of(msg), seq_of(msg))
        self.index.observe_last(key, position.version, position.seq)
        return position

    def next_message(self, subject_filter: str, seq: int) -> Msg | None:
        return self.client.direct_get(self.stream, {"seq": seq, "next_by_subj": subject_filter})

    # ---- scans -----------------------------------------------------------------------------

    def scan(self, subject_filter: str, start: int, batch: int = READ_BATCH) -> Iterator[Msg]:
        """All messages matching the filter from sequence ``start`` on, in stream order."""
        seq = max(start, 1)
        while True:
            msgs, pending = self.client.direct_get_batch(
                self.stream, {"seq": seq, "batch": batch, "next_by_subj": subject_filter}
            )
            yield from msgs
            if not msgs or pending == 0:
                return
            seq = seq_of(msgs[-1]) + 1
            batch = READ_BATCH

    def _seek(self, subject_filter: str, gt: int, last: Position) -> int:
        """Binary search for the first sequence holding a version above ``gt`` (versions of one
        aggregate increase with the sequence)."""
        lo, hi, found = 1, last.seq, last.seq
        while lo <= hi:
            mid = (lo + hi) // 2
            msg = self.next_message(subject_filter, mid)
            if msg is None:
                hi = mid - 1
                continue
            seq, version = seq_of(msg), version_of(msg)
            if version > gt:
                found = min(found, seq)
                hi = mid - 1
            elif seq > hi:
                hi = mid - 1
            else:
                lo = seq + 1
        return found

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        key = h.id_token(originator_id)
        subject_filter = self.aggregate_filter(key)
        if limit is not None and limit <= 0:
            return []
        if desc:
            msg = self.last_message(subject_filter)
            if msg is None:
                return []
            self._observe(key, msg, last=True)
            version = version_of(msg)
            if gt is not None and version <= gt:
                return []
            if limit == 1 and (lte is None or version <= lte):
                return [h.stored_event(_headers(msg), msg.data, originator_id)]
        start = 1
        if gt is not None:
            start = self.index.start_after(key, gt)
            if start == 1 and gt >= SEEK_THRESHOLD:
                last = self.last_position(key)
                if last is None or last.version <= gt:
                    return []
                start = self._seek(subject_filter, gt, last)
        batch = READ_BATCH if desc or limit is None else min(READ_BATCH, limit)
        events: list[StoredEvent] = []
        for msg in self.scan(subject_filter, start, batch):
            headers = _headers(msg)
            version = int(headers[h.VERSION])
            self._observe(key, msg, last=headers.get(h.NATS_NUM_PENDING) == "0")
            if gt is not None and version <= gt:
                continue
            if lte is not None and version > lte:
                break
            events.append(h.stored_event(headers, msg.data, originator_id))
            if not desc and limit is not None and len(events) >= limit:
                break
        if desc:
            events.reverse()
            if limit is not None:
                del events[limit:]
        return events

    def _observe(self, key: str, msg: Msg, *, last: bool) -> None:
        headers = _headers(msg)
        version, seq = int(headers[h.VERSION]), int(headers[h.NATS_SEQUENCE])
        if last:
            self.index.observe_last(key, version, seq)
        if self._anchors is not None:
            event_seq = headers.get(h.EVENT_SEQUENCE)
            if event_seq:
                self._anchors.add_anchor(key, version, int(event_seq))

    def find_seq(self, key: str, version: int) -> int | None:
        """The sequence of one version of an aggregate (cached, else searched)."""
        known = self.index.seq_of(key, version)
        if known is not None:
            return known
        last = self.last_position(key)
        if last is None or last.version < version:
            return None
        if last.version == version:
            return last.seq
        msg = self.next_message(
            self.aggregate_filter(key), self._seek(self.aggregate_filter(key), version - 1, last)
        )
        if msg is not None and version_of(msg) == version:
            return seq_of(msg)
        return None

    # ---- notifications ---------------------------------------------------------------------

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        first = 1 if start is None else start if inclusive_of_start else start + 1
        if limit <= 0 or (stop is not None and stop < first):
            return []
        wanted = frozenset(topics)
        batch = READ_BATCH if wanted else min(READ_BATCH, limit)
        if stop is not None:
            batch = max(1, min(batch, stop - max(first, 1) + 1))
        notifications: list[Notification] = []
        for msg in self.scan(self.events_filter, first, batch):
            headers = _headers(msg)
            seq = int(headers[h.NATS_SEQUENCE])
            if stop is not None and seq > stop:
                break
            if wanted and headers.get(h.TOPIC) not in wanted:
                continue
            notifications.append(h.notification(headers, msg.data, headers[h.NATS_SUBJECT], seq))
            if len(notifications) >= limit:
                break
        return notifications

    def max_notification_id(self) -> int | None:
        msg = self.last_message(self.events_filter)
        return seq_of(msg) if msg is not None else None
