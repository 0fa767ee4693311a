"""Appending events: optimistic concurrency, atomic batches, idempotent commands, tracking.

One ``insert`` is one JetStream publish: a single message, or one atomic batch of
``[command marker] [tracking record] events...``. Before that, a new aggregate's first save
stores its aggregate record (``locator``) in the records stream: its expected sequence 0 makes
one id one aggregate whatever its tenant or type, and it names the one subject that all of the
aggregate's events go to. So the first event of each aggregate in a batch carries
``Nats-Expected-Last-Subject-Sequence`` on its own, literal subject, a check whose cost does not
grow with the stream's subjects; a stale expectation rejects the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from adapters.jetstream import headers as h
from adapters.jetstream import saves
from adapters.jetstream.batches import MAX_BATCH
from adapters.jetstream.client import NatsClient
from adapters.jetstream.errors import BatchTooLarge, CommandAlreadyApplied, JetStreamApiError
from adapters.jetstream.framing import Frame
from adapters.jetstream.positions import PositionIndex
from adapters.jetstream.reader import StreamReader, seq_of
from domain.event_context import SYSTEM_CONTEXT, EventContext

ERR_WRONG_LAST_SEQUENCE = 10071
ERR_DUPLICATE_MSG_ID_IN_BATCH = 10201
ERR_BATCH_TOO_LARGE = 10199
_ATTEMPTS = 4

_EVENT_COUNT_LINE: Final = h.EVENT_COUNT.encode() + b": %d\r\n"
_NOTIFICATION_ID_LINE: Final = h.NOTIFICATION_ID.encode() + b": %d\r\n"
_EVENT_SEQUENCE_LINE: Final = h.EVENT_SEQUENCE.encode() + b": %d\r\n"


class _Conflict(Exception):
    """The server rejected the write: an expected sequence or a message id did not match."""


class StreamWriter:
    def __init__(
        self,
        client: NatsClient,
        reader: StreamReader,
        tracking_index: PositionIndex,
        snapshots_of: StreamReader | None = None,
    ) -> None:
        self.client = client
        self.appends = client.appends
        self.reader = reader
        self.locator = reader.locator
        self.prefix = reader.prefix
        self.index = reader.index
        self.tracking_index = tracking_index
        self._snapshots_of = snapshots_of

    def tracking_subject(self, application_name: str) -> str:
        return f"{self.prefix}.{h.TRACKING}.{h.encode_token(application_name)}"

    def insert(
        self,
        events: Sequence[StoredEvent],
        tracking: Tracking | None = None,
        context: EventContext | None = None,
    ) -> list[int]:
        """Append events (and a tracking record) atomically; returns their notification ids.

        The events are recorded under `context` (tenant, actor, ids); without one, as the
        system's."""
        if not events and tracking is None:
            return []
        if context is None:
            context = SYSTEM_CONTEXT
        tenant = h.tenant_token(context.tenant)
        base = h.context_lines(context)
        command_id = context.command_id
        prefix = self.prefix
        head: list[Frame] = []
        keys: set[str] = set()  # what this save checks: never two saves on one key in a batch
        # A save that creates one aggregate needs no marker (decision 0021): its retry is
        # refused by the aggregate's record, and its first event names the command.
        marked = command_id is not None and not _creates_one(events, tracking)
        if marked:
            assert command_id is not None
            marker = b"".join(
                (
                    base,
                    h.header_line(h.MSG_ID, command_id),
                    _EVENT_COUNT_LINE % len(events),
                    saves.EXPECTED_LINE % 0,
                )
            )
            marker_subject = f"{prefix}.{h.COMMANDS}.{h.encode_token(command_id)}"
            head.append((marker_subject.encode(), marker, b""))
            keys.add("\0command:" + command_id)
        tracking_at = len(head) if tracking is not None else -1
        if tracking is not None:
            line = _NOTIFICATION_ID_LINE % tracking.notification_id
            tracking_subject = self.tracking_subject(tracking.application_name)
            head.append((tracking_subject.encode(), line, b""))
            keys.add("\0tracking:" + tracking.application_name)
        snapshot_position = self._snapshot_position if self._snapshots_of is not None else None
        aggregates, prepared = saves.prepare(events, tenant, base, snapshot_position)
        if len(head) + len(prepared) > MAX_BATCH:
            raise BatchTooLarge(
                f"one save of {len(events)} events needs {len(head) + len(prepared)} messages; "
                f"JetStream's atomic batch holds at most {MAX_BATCH}: save in smaller steps"
            )
        keys.update(aggregates)
        save_keys = frozenset(keys)
        # One more round than attempts: new aggregates' records are stored first, once.
        for _ in range(_ATTEMPTS + 1):
            plans = saves.plan(aggregates, self.index, self.locator, base)
            tracked = self._tracking_expectation(tracking)
            records = [plan.record for plan in plans.values() if plan.record is not None]
            frames = list(head)
            if tracking_at >= 0:
                subject, headers, payload = frames[tracking_at]
                frames[tracking_at] = (subject, headers + saves.EXPECTED_LINE % tracked, payload)
            offset = len(frames)
            try:
                if records:
                    self._store_records(records, aggregates, plans, save_keys)
                    continue
                frames += saves.event_frames(prepared, aggregates, plans)
                ack = self._publish(frames, save_keys)
            except _Conflict:
                if command_id is not None:
                    applied = self._already_applied if marked else self._already_created
                    ids = applied(command_id, events)
                    if ids is not None:
                        return ids
                if not self._refresh(aggregates, plans, tracking, tracked):
                    raise IntegrityError(
                        "the event store rejected the write: an expected sequence did not match"
                    ) from None
                continue
            first_seq = int(ack["seq"]) - len(frames) + 1
            for key, aggregate in aggregates.items():
                self.index.observe_last(
                    key, aggregate.last_version, first_seq + offset + aggregate.last_index
                )
            if tracking is not None:
                key = h.encode_token(tracking.application_name)
                self.tracking_index.observe_last(
                    key, tracking.notification_id, first_seq + tracking_at
                )
            return list(range(first_seq + len(frames) - len(events), first_seq + len(frames)))
        raise IntegrityError("the event store kept rejecting the write: concurrent writers")

    def _store_records(
        self,
        records: list[Frame],
        aggregates: dict[str, saves.Aggregate],
        plans: dict[str, saves.Plan],
        keys: frozenset[str],
    ) -> None:
        """Store new aggregates' records, before any of their events (so an aggregate without
        a record has no events). A record whose events never follow only names where an
        aggregate without events would be."""
        # Answered, the caller appends the events next: the events stream's batch waits for it.
        self._publish(records, keys, self.locator.records_stream, then=self.reader.stream)
        for key, aggregate in aggregates.items():
            if plans[key].record is not None:
                self.index.observe_subject(key, aggregate.tail)

    def _snapshot_position(self, key: str, version: int) -> bytes:
        """On a snapshot: the events-stream sequence of its version, when it can be found."""
        assert self._snapshots_of is not None
        seq = self._snapshots_of.find_seq(key, version)
        return _EVENT_SEQUENCE_LINE % seq if seq is not None else b""

    def _tracking_expectation(self, tracking: Tracking | None) -> int:
        """The expected last sequence of the tracking subject (0 without tracking)."""
        if tracking is None:
            return 0
        key = h.encode_token(tracking.application_name)
        known = self.tracking_index.last(key)
        if known is not None and tracking.notification_id <= known.version:
            raise IntegrityError(
                f"tracking {tracking.notification_id} of {tracking.application_name!r} is "
                f"not above the recorded {known.version}"
            )
        return known.seq if known is not None else 0

    def _publish(
        self,
        batch: list[Frame],
        keys: frozenset[str],
        stream: str | None = None,
        then: str | None = None,
    ) -> dict[str, Any]:
        ack = self.appends.append(stream or self.reader.stream, batch, keys, next_stream=then)
        error = ack.get("error")
        if error:
            err_code = int(error.get("err_code", 0))
            if err_code in (ERR_WRONG_LAST_SEQUENCE, ERR_DUPLICATE_MSG_ID_IN_BATCH):
                raise _Conflict(error.get("description"))
            if err_code == ERR_BATCH_TOO_LARGE:
                raise BatchTooLarge(str(error.get("description")))
            raise JetStreamApiError(
                str(error.get("description")), int(error.get("code", 0)), int(err_code)
            )
        return ack

    def _refresh(
        self,
        aggregates: dict[str, saves.Aggregate],
        plans: dict[str, saves.Plan],
        tracking: Tracking | None,
        tracked: int,
    ) -> bool:
        """Re-read what the write assumed (records, positions); True if any of it had moved."""
        moved = False
        for key in aggregates:
            position = self.reader.last_position(key)  # also learns the record, if any
            now = (self.locator.known_tail(key), position.seq if position is not None else 0)
            if now != plans[key].used:
                moved = True
        if tracking is not None:
            key = h.encode_token(tracking.application_name)
            msg = self.reader.last_message(self.tracking_subject(tracking.application_name))
            if msg is not None:
                notification_id = int((msg.headers or {})[h.NOTIFICATION_ID])
                self.tracking_index.observe_last(key, notification_id, seq_of(msg))
            if (seq_of(msg) if msg is not None else 0) != tracked:
                moved = True
        return moved

    def _already_created(self, command_id: str, events: Sequence[StoredEvent]) -> list[int] | None:
        """If the aggregate these events create was created by this command: the ids of its
        events (or CommandAlreadyApplied if they are not the events given now); else None."""
        subject_filter = self.locator.events_filter(h.id_token(events[0].originator_id))
        first = self.reader.next_message(subject_filter, 1) if subject_filter else None
        if first is None or (first.headers or {}).get(h.COMMAND_ID) != command_id:
            return None
        assert subject_filter is not None
        return self._recorded(command_id, events, subject_filter, seq_of(first), len(events))

    def _already_applied(self, command_id: str, events: Sequence[StoredEvent]) -> list[int] | None:
        """If the command was recorded before: the ids of its events (or CommandAlreadyApplied
        if they are not the events given now); else None."""
        marker = self.reader.last_message(
            f"{self.prefix}.{h.COMMANDS}.{h.encode_token(command_id)}"
        )
        if marker is None:
            return None
        count = int((marker.headers or {}).get(h.EVENT_COUNT, "0"))
        return self._recorded(
            command_id, events, self.reader.events_filter, seq_of(marker) + 1, count
        )

    def _recorded(
        self,
        command_id: str,
        events: Sequence[StoredEvent],
        subject_filter: str,
        start: int,
        count: int,
    ) -> list[int]:
        """The ids of the command's `count` events stored from `start` (on `subject_filter`),
        checked against `events`."""
        recorded = []
        if count:
            for msg in self.reader.scan(subject_filter, start, count):
                headers = msg.headers or {}
                recorded.append(
                    h.notification(headers, msg.data, headers[h.NATS_SUBJECT], seq_of(msg))
                )
                if len(recorded) == count:
                    break
        ids = [n.id for n in recorded]
        same = [(n.originator_id, n.originator_version, n.topic) for n in recorded] == [
            (e.originator_id, e.originator_version, e.topic) for e in events
        ]
        if not same:
            raise CommandAlreadyApplied(
                f"command {command_id!r} was already applied, with other events", command_id, ids
            )
        for n in recorded:
            self.index.observe_last(h.id_token(n.originator_id), n.originator_version, n.id)
        return ids


def _creates_one(events: Sequence[StoredEvent], tracking: Tracking | None) -> bool:
    """True for a save of one new aggregate's first events, and nothing else."""
    if tracking is not None or not events or events[0].originator_version != 1:
        return False
    return all(e.originator_id == events[0].originator_id for e in events)
