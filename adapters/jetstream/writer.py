"""Appending events: optimistic concurrency, atomic batches, idempotent commands, tracking.

One ``insert`` is one JetStream publish: a single message, or one atomic batch of
``[command marker] [tracking record] events...``. The first event of each aggregate carries
``Nats-Expected-Last-Subject-Sequence`` against ``<prefix>.*.*.<aggregate id>``, so one id is
one aggregate whatever its tenant or type, and a stale expectation rejects the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from adapters.jetstream import headers as h
from adapters.jetstream.appends import MAX_BATCH
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

_EXPECTED_LINE: Final = h.EXPECTED_LAST_SUBJECT_SEQ.encode() + b": %d\r\n"
_EXPECTED_SUBJECT_LINE: Final = h.EXPECTED_LAST_SUBJECT_SEQ_SUBJECT.encode() + b": %s\r\n"
_EVENT_COUNT_LINE: Final = h.EVENT_COUNT.encode() + b": %d\r\n"
_NOTIFICATION_ID_LINE: Final = h.NOTIFICATION_ID.encode() + b": %d\r\n"
_EVENT_SEQUENCE_LINE: Final = h.EVENT_SEQUENCE.encode() + b": %d\r\n"


class _Conflict(Exception):
    """The server rejected the write: an expected sequence or a message id did not match."""


@dataclass
class _Aggregate:
    key: str
    first_version: int
    last_version: int
    first_index: int  # positions of its first and last message in the batch
    last_index: int


class StreamWriter:
    def __init__(
        self,
        client: NatsClient,
        reader: StreamReader,
        tracking_index: PositionIndex,
        snapshots_of: StreamReader | None = None,
    ) -> None:
        self.client = client
        self.reader = reader
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
        frames: list[Frame] = []
        keys: set[str] = set()  # what this save checks: never two saves on one key in a batch
        if command_id is not None:
            marker = b"".join(
                (
                    base,
                    h.header_line(h.MSG_ID, command_id),
                    _EVENT_COUNT_LINE % len(events),
                    _EXPECTED_LINE % 0,
                )
            )
            marker_subject = f"{prefix}.{h.COMMANDS}.{h.encode_token(command_id)}"
            frames.append((marker_subject.encode(), marker, b""))
            keys.add("\0command:" + command_id)
        tracking_at = len(frames) if tracking is not None else -1
        if tracking is not None:
            line = _NOTIFICATION_ID_LINE % tracking.notification_id
            tracking_subject = self.tracking_subject(tracking.application_name)
            frames.append((tracking_subject.encode(), line, b""))
            keys.add("\0tracking:" + tracking.application_name)
        aggregates: dict[str, _Aggregate] = {}
        # Per (aggregate, topic): the aggregate key, subject and constant header lines; the
        # events of one save mostly share both, so the last ones are checked first (identity).
        constant: dict[tuple[UUID | str, str], tuple[str, bytes, bytes]] = {}
        last_id: UUID | str | None = None
        last_topic: str | None = None
        key, event_subject, lines = "", b"", b""
        version_line = h.VERSION_LINE
        snapshots = self._snapshots_of is not None
        for event in events:
            originator_id, version, topic = (
                event.originator_id,
                event.originator_version,
                event.topic,
            )
            if originator_id is not last_id or topic is not last_topic:
                parts = constant.get((originator_id, topic))
                if parts is None:
                    key = h.id_token(originator_id)
                    event_subject = f"{prefix}.{tenant}.{h.type_token(topic)}.{key}".encode()
                    lines = base + h.topic_line(topic)
                    if not isinstance(originator_id, UUID):
                        lines += h.STR_ID_LINE
                    parts = constant[(originator_id, topic)] = (key, event_subject, lines)
                key, event_subject, lines = parts
                last_id, last_topic = originator_id, topic
            headers = lines + version_line % version
            if snapshots:
                headers += self._snapshot_position(key, version)
            at = len(frames)
            frames.append((event_subject, headers, event.state))
            aggregate = aggregates.get(key)
            if aggregate is None:
                aggregates[key] = _Aggregate(key, version, version, at, at)
            elif version <= aggregate.last_version:
                raise IntegrityError(
                    f"versions of aggregate {event.originator_id} must increase within one save"
                )
            else:
                aggregate.last_version, aggregate.last_index = version, at
        if len(frames) > MAX_BATCH:
            raise BatchTooLarge(
                f"one save of {len(events)} events needs {len(frames)} messages; JetStream's "
                f"atomic batch holds at most {MAX_BATCH}: save in smaller steps"
            )
        keys.update(aggregates)
        save_keys = frozenset(keys)
        for _ in range(_ATTEMPTS):
            expected = self._expectations(aggregates, tracking)
            batch = self._with_expectations(frames, aggregates, expected, tracking_at)
            try:
                ack = self._publish(batch, save_keys)
            except _Conflict:
                if command_id is not None:
                    ids = self._already_applied(command_id, events)
                    if ids is not None:
                        return ids
                if not self._refresh(aggregates, tracking, expected):
                    raise IntegrityError(
                        "the event store rejected the write: an expected sequence did not match"
                    ) from None
                continue
            first_seq = int(ack["seq"]) - len(frames) + 1
            for aggregate in aggregates.values():
                self.index.observe_last(
                    aggregate.key, aggregate.last_version, first_seq + aggregate.last_index
                )
            if tracking is not None:
                key = h.encode_token(tracking.application_name)
                self.tracking_index.observe_last(
                    key, tracking.notification_id, first_seq + tracking_at
                )
            return list(range(first_seq + len(frames) - len(events), first_seq + len(frames)))
        raise IntegrityError("the event store kept rejecting the write: concurrent writers")

    def _snapshot_position(self, key: str, version: int) -> bytes:
        """On a snapshot: the events-stream sequence of its version, when it can be found."""
        assert self._snapshots_of is not None
        seq = self._snapshots_of.find_seq(key, version)
        return _EVENT_SEQUENCE_LINE % seq if seq is not None else b""

    def _expectations(
        self, aggregates: dict[str, _Aggregate], tracking: Tracking | None
    ) -> dict[str, int]:
        """Expected last sequence per aggregate key (and per tracking subject)."""
        expected: dict[str, int] = {}
        for aggregate in aggregates.values():
            known = self.index.last(aggregate.key)
            if known is not None and aggregate.first_version <= known.version:
                raise IntegrityError(
                    f"version {aggregate.first_version} of aggregate {aggregate.key} is not "
                    f"above its last stored version {known.version}"
                )
            expected[aggregate.key] = known.seq if known is not None else 0
        if tracking is not None:
            key = h.encode_token(tracking.application_name)
            known = self.tracking_index.last(key)
            if known is not None and tracking.notification_id <= known.version:
                raise IntegrityError(
                    f"tracking {tracking.notification_id} of {tracking.application_name!r} is "
                    f"not above the recorded {known.version}"
                )
            expected["\0" + key] = known.seq if known is not None else 0
        return expected

    def _with_expectations(
        self,
        frames: list[Frame],
        aggregates: dict[str, _Aggregate],
        expected: dict[str, int],
        tracking_at: int,
    ) -> list[Frame]:
        batch = list(frames)
        for aggregate in aggregates.values():
            subject, headers, payload = batch[aggregate.first_index]
            headers += _EXPECTED_LINE % expected[aggregate.key]
            headers += _EXPECTED_SUBJECT_LINE % self.reader.aggregate_filter(aggregate.key).encode()
            batch[aggregate.first_index] = (subject, headers, payload)
        if tracking_at >= 0:
            subject, headers, payload = batch[tracking_at]
            key = "\0" + subject.decode().rpartition(".")[2]
            batch[tracking_at] = (subject, headers + _EXPECTED_LINE % expected[key], payload)
        return batch

    def _publish(self, batch: list[Frame], keys: frozenset[str]) -> dict[str, Any]:
        ack = self.client.append(self.reader.stream, batch, keys)
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
        self, aggregates: dict[str, _Aggregate], tracking: Tracking | None, used: dict[str, int]
    ) -> bool:
        """Re-read the positions the write expected; True if any of them had moved."""
        moved = False
        for aggregate in aggregates.values():
            position = self.reader.last_position(aggregate.key)
            if (position.seq if position is not None else 0) != used[aggregate.key]:
                moved = True
        if tracking is not None:
            key = h.encode_token(tracking.application_name)
            msg = self.reader.last_message(self.tracking_subject(tracking.application_name))
            if msg is not None:
                notification_id = int((msg.headers or {})[h.NOTIFICATION_ID])
                self.tracking_index.observe_last(key, notification_id, seq_of(msg))
            if (seq_of(msg) if msg is not None else 0) != used["\0" + key]:
                moved = True
        return moved

    def _already_applied(self, command_id: str, events: Sequence[StoredEvent]) -> list[int] | None:
        """If the command was recorded before: the ids of its events (or CommandAlreadyApplied
        if they are not the events given now); else None."""
        marker = self.reader.last_message(
            f"{self.prefix}.{h.COMMANDS}.{h.encode_token(command_id)}"
        )
        if marker is None:
            return None
        count = int((marker.headers or {}).get(h.EVENT_COUNT, "0"))
        recorded = []
        if count:
            for msg in self.reader.scan(self.reader.events_filter, seq_of(marker) + 1, count):
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
