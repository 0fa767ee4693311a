"""Reading events, notifications and internal records from a stream.

Single messages: direct get through nats-py. Scans (``scan.Cursor``): pages of up to 1,000
messages by batched direct get (long replays of notifications: a pull consumer), received raw
(``bulk``, ``inbound``), decoded without a ``Msg`` per message (``replies``, ``notifications``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from nats.aio.msg import Msg

from adapters.jetstream import headers as h
from adapters.jetstream import nats_internals, replies
from adapters.jetstream.client import NatsClient
from adapters.jetstream.locator import Locator
from adapters.jetstream.notifications import NotificationItem, Notifications
from adapters.jetstream.positions import Position, PositionIndex
from adapters.jetstream.replies import RawItem
from adapters.jetstream.scan import READ_BATCH, Cursor, Cursors
from adapters.jetstream.traced import TracedNotifications
from adapters.telemetry import tracing

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
        *,
        records_complete: bool,
    ) -> None:
        self.client = client
        self.stream = stream
        self.prefix = prefix
        self.index = index
        self.locator = Locator(client, stream, prefix, index, records_complete=records_complete)
        # For a snapshot stream: the events stream's index, told where snapshots' versions are.
        self._anchors = anchors
        self.events_filter = f"{prefix}.*.*.*"
        # Notifications are read with the filter of every message of the prefix, internal
        # records (fewer tokens) skipped here: measured on nats-server 2.15, with a filter
        # like `prefix.*.*.*` the server spends 15 to 130 us of CPU per message (the more
        # subjects the stream has, the more), with `prefix.>` 4 (consumer) to 20 (direct get).
        self.all_filter = f"{prefix}.>"
        # With tracing on, notifications carry their event's traceparent too (traced.py).
        decoder = TracedNotifications if tracing.enabled() else Notifications
        self.notifications = decoder(event_dots=prefix.count(".") + 3)
        self._cursors = Cursors()  # of replays, for their next call

    # ---- single messages -------------------------------------------------------------------

    def last_message(self, subject_filter: str) -> Msg | None:
        return self.client.direct_get(self.stream, {"last_by_subj": subject_filter})

    def last_position(self, key: str) -> Position | None:
        """The last stored version of an aggregate and its sequence (also cached)."""
        subject_filter = self.locator.events_filter(key)
        msg = self.last_message(subject_filter) if subject_filter is not None else None
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
        nc = self.client.nc
        cursor = Cursor(self.client, self.stream, subject_filter, start, batch, replies.raw)
        try:
            for page in cursor.pages():
                for _, (block, data) in page:
                    headers = replies.parse_headers(block)
                    subject = headers.get(h.NATS_SUBJECT, "")
                    yield nats_internals.message(nc, subject, data, headers)
        finally:
            cursor.close()

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
        if limit is not None and limit <= 0:
            return []
        # A literal subject (from the aggregate's record): the server's cost does not grow
        # with the tenants and subjects of the stream (decision 0009).
        subject_filter = self.locator.events_filter(key)
        if subject_filter is None:
            return []
        if desc:
            msg = self.last_message(subject_filter)
            if msg is None:
                return []
            headers = _headers(msg)
            version = int(headers[h.VERSION])
            self._observe(key, version, seq_of(msg), headers.get(h.EVENT_SEQUENCE), last=True)
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
        # Up to `lte`, versions 1..lte at most: not every later event of the aggregate too.
        cap = READ_BATCH if lte is None or desc else min(READ_BATCH, max(lte, 1))
        batch = cap if desc or limit is None else min(cap, limit)
        events: list[StoredEvent] = []
        cursor = Cursor(self.client, self.stream, subject_filter, start, batch, replies.raw)
        # Reading to the end (no upper bound): the next page may be requested early.
        cursor.pipeline = lte is None and (desc or limit is None)
        try:
            for page in cursor.pages():
                if self._collect(key, page, originator_id, events, gt, lte, desc, limit):
                    break
        finally:
            cursor.close()
        if desc:
            events.reverse()
            if limit is not None:
                del events[limit:]
        return events

    def _collect(
        self,
        key: str,
        page: list[RawItem],
        originator_id: UUID | str,
        events: list[StoredEvent],
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> bool:
        """Add a page's events in range to ``events``; True when no more are wanted."""
        for seq, (block, data) in page:
            version = replies.version_of(block)
            event_seq = replies.value(block, replies.EVENT_SEQUENCE_KEY)
            last = replies.pending_of(block) == 0
            self._observe(key, version, seq, event_seq, last=last)
            if gt is not None and version <= gt:
                continue
            if lte is not None and version > lte:
                return True
            events.append(replies.stored_event(block, data, originator_id))
            if version == lte or (not desc and limit is not None and len(events) >= limit):
                return True
        return False

    def _observe(
        self, key: str, version: int, seq: int, event_seq: str | bytes | None, *, last: bool
    ) -> None:
        if last:
            self.index.observe_last(key, version, seq)
        if self._anchors is not None and event_seq:
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
        subject_filter = self.locator.events_filter(key)
        if subject_filter is None:
            return None
        msg = self.next_message(subject_filter, self._seek(subject_filter, version - 1, last))
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
        # Twice the limit: the filter also matches internal records (a marker per command).
        batch = READ_BATCH if wanted else min(READ_BATCH, 2 * limit)
        if stop is not None:
            batch = max(1, min(batch, stop - max(first, 1) + 1))
        # Full pages may be a replay's, which calls again where this call stops.
        bulk = batch == READ_BATCH
        cursor = self._cursors.take(self.all_filter, first) if bulk else None
        if cursor is None:
            decode = self.notifications
            cursor = Cursor(self.client, self.stream, self.all_filter, first, batch, decode)
            cursor.next_batch = READ_BATCH if bulk else batch  # small reads stay small
            if self._cursors.consumers_allowed():
                cursor.deliveries, cursor.on_refused = decode.deliveries, self._cursors.refused
        # A caller asking for a thousand or more reads on: request the next page early.
        cursor.pipeline, cursor.stop = limit >= READ_BATCH, stop
        notifications: list[Notification] = []
        add = notifications.append
        try:
            for page in cursor.pages():
                for index, (seq, item) in enumerate(page):
                    if stop is not None and seq > stop:
                        return notifications
                    if item is None:
                        continue  # an internal record (command marker, tracking)
                    if isinstance(item, Exception):
                        raise item
                    if wanted and item.topic not in wanted:
                        continue
                    add(item)
                    if len(notifications) >= limit:
                        if bulk:
                            self._pause(cursor, page, index)
                            cursor = None
                        return notifications
        finally:
            if cursor is not None:
                cursor.close()
        return notifications

    def _pause(
        self,
        cursor: Cursor[Notification | Exception | None],
        page: list[NotificationItem],
        index: int,
    ) -> None:
        """Keep a replay's cursor for its next call, which starts after ``page[index]``."""
        rest = page[index + 1 :]
        if not rest and not cursor.inflight and cursor.consumer is None:
            return  # nothing read ahead: a new cursor will do as well
        hi = rest[0][0] if rest else cursor.seq
        self._cursors.keep(page[index][0] + 1, hi, cursor.paused(rest))

    def max_notification_id(self) -> int | None:
        msg = self.last_message(self.events_filter)
        return seq_of(msg) if msg is not None else None
