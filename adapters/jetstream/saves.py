"""What one save writes: its events' messages and, per aggregate, where and with what check.

Built once per save (``prepare``: the header lines that never change), then per attempt
(``plan``, ``event_frames``): an attempt after a conflict knows more (a record, a position).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from adapters.jetstream import headers as h
from adapters.jetstream.framing import Frame
from adapters.jetstream.locator import Locator
from adapters.jetstream.positions import PositionIndex

EXPECTED_LINE: Final = h.EXPECTED_LAST_SUBJECT_SEQ.encode() + b": %d\r\n"
_EXPECTED_SUBJECT_LINE: Final = h.EXPECTED_LAST_SUBJECT_SEQ_SUBJECT.encode() + b": %s\r\n"


@dataclass
class Aggregate:
    tail: str  # <tenant>.<type> of its first event here: its subject if it is new
    first_version: int
    last_version: int
    first_index: int  # positions of its first and last event in the save
    last_index: int


@dataclass
class Plan:
    """How one attempt writes an aggregate's events: where, with what check."""

    subject: bytes
    check: bytes  # expected-sequence header lines of its first event
    record: Frame | None  # the aggregate record to store first (a new aggregate)
    used: tuple[str | None, int]  # what the check assumed: subject of record, last sequence


# Per event of a save: its aggregate's key, its header lines (without checks), its payload.
Prepared = tuple[str, bytes, bytes]


def prepare(
    events: Sequence[StoredEvent],
    tenant: str,
    base: bytes,
    snapshot_position: Callable[[str, int], bytes] | None,
) -> tuple[dict[str, Aggregate], list[Prepared]]:
    """Each event's constant header lines, and the aggregates of the save (by key)."""
    aggregates: dict[str, Aggregate] = {}
    prepared: list[Prepared] = []
    # Per (aggregate, topic): the aggregate key and constant header lines; the events of
    # one save mostly share both, so the last ones are checked first (identity).
    constant: dict[tuple[UUID | str, str], tuple[str, bytes]] = {}
    last_id: UUID | str | None = None
    last_topic: str | None = None
    key, lines = "", b""
    version_line = h.VERSION_LINE
    for at, event in enumerate(events):
        originator_id, version, topic = (
            event.originator_id,
            event.originator_version,
            event.topic,
        )
        if originator_id is not last_id or topic is not last_topic:
            parts = constant.get((originator_id, topic))
            if parts is None:
                key = h.id_token(originator_id)
                lines = base + h.topic_line(topic)
                if not isinstance(originator_id, UUID):
                    lines += h.STR_ID_LINE
                parts = constant[(originator_id, topic)] = (key, lines)
            key, lines = parts
            last_id, last_topic = originator_id, topic
        headers = lines + version_line % version
        if snapshot_position is not None:
            headers += snapshot_position(key, version)
        prepared.append((key, headers, event.state))
        aggregate = aggregates.get(key)
        if aggregate is None:
            tail = f"{tenant}.{h.type_token(topic)}"
            aggregates[key] = Aggregate(tail, version, version, at, at)
        elif version <= aggregate.last_version:
            raise IntegrityError(
                f"versions of aggregate {event.originator_id} must increase within one save"
            )
        else:
            aggregate.last_version, aggregate.last_index = version, at
    return aggregates, prepared


def plan(
    aggregates: dict[str, Aggregate], index: PositionIndex, locator: Locator, base: bytes
) -> dict[str, Plan]:
    """Subject and check of each aggregate for this attempt, from what the index knows (an
    aggregate it does not know is taken for a new one: its record's check tells)."""
    plans: dict[str, Plan] = {}
    for key, aggregate in aggregates.items():
        known = index.last(key)
        if known is not None and aggregate.first_version <= known.version:
            raise IntegrityError(
                f"version {aggregate.first_version} of aggregate {key} is not "
                f"above its last stored version {known.version}"
            )
        seq = known.seq if known is not None else 0
        tail = locator.known_tail(key)
        if tail is None:  # its record first, then its events (next round)
            record = locator.record_frame(key, aggregate.tail, base)
            plans[key] = Plan(b"", b"", record, (None, 0))
        elif tail == h.SEVERAL_SUBJECTS:  # no single subject: as before records
            subject = locator.event_subject(key, aggregate.tail).encode()
            wildcard = locator.wildcard(key).encode()
            check = EXPECTED_LINE % seq + _EXPECTED_SUBJECT_LINE % wildcard
            plans[key] = Plan(subject, check, None, (tail, seq))
        elif known is None and tail != aggregate.tail:
            # Recorded, no events yet: another tenant or type is creating this id (or did,
            # and died before its events); it may not become theirs and ours at once.
            raise IntegrityError(
                f"aggregate {key} is being created as {tail!r}, not as {aggregate.tail!r}"
            )
        else:
            subject = locator.event_subject(key, tail).encode()
            plans[key] = Plan(subject, EXPECTED_LINE % seq, None, (tail, seq))
    return plans


def event_frames(
    prepared: list[Prepared], aggregates: dict[str, Aggregate], plans: dict[str, Plan]
) -> list[Frame]:
    firsts = {aggregate.first_index for aggregate in aggregates.values()}
    frames: list[Frame] = []
    last_key, current = "", None
    for at, (key, headers, payload) in enumerate(prepared):
        if key is not last_key or current is None:
            current, last_key = plans[key], key
        if at in firsts:
            headers += current.check
        frames.append((current.subject, headers, payload))
    return frames
