"""Give every aggregate of an events stream from before aggregate records its record, then mark
the stream as having them all (decision 0009): its loads then cost what they cost on a new
stream.

Run it while no process writes to the stream (stop the API and the workers): a process started
before the mark reads and writes the stream as before records, and would create aggregates
without one. Processes started afterwards use the records. It is safe to run again (records
already right are left alone, a record that is not is superseded), and it changes no event.

    NATS_URL=nats://... NATS_STREAM=cairn_events NATS_SUBJECT_PREFIX=cairn \\
        python -m adapters.jetstream.backfill

An aggregate whose events are under several subjects (saved under several tenants, or types,
before records existed) gets the record ``*``: it is read with the wildcard, as before.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from eventsourcing.utils import Environment

from adapters.jetstream import headers as h
from adapters.jetstream import replies
from adapters.jetstream.errors import StreamConfigurationError
from adapters.jetstream.factory import Factory
from adapters.jetstream.framing import Frame
from adapters.jetstream.locator import STREAM_METADATA, records_prefix
from adapters.jetstream.recorders import EventStream
from adapters.jetstream.scan import READ_BATCH, Cursor

_BATCH = 1000  # records per atomic batch (JetStream's limit)


@dataclass(frozen=True)
class BackfillReport:
    stream: str
    aggregates: int  # aggregates found in the stream
    written: int  # records stored now
    several_subjects: int  # aggregates read with the wildcard (events under several subjects)
    already_complete: bool  # the stream was marked before: nothing was done


def backfill(factory: Factory, *, snapshots: bool = False) -> BackfillReport:
    """Records for the aggregates of the factory's events (or snapshots) stream, then the mark."""
    events = factory.snapshots_stream() if snapshots else factory.events_stream()
    locator = events.reader.locator
    if locator.records_complete:
        return BackfillReport(events.stream, 0, 0, 0, already_complete=True)
    tails = _tails_of_events(events)
    recorded = _recorded_tails(events)
    frames: list[Frame] = []
    several = 0
    for key, found in tails.items():
        tail = next(iter(found)) if len(found) == 1 else h.SEVERAL_SUBJECTS
        several += tail == h.SEVERAL_SUBJECTS
        record = recorded.get(key)
        if record is None or record[0] != tail:
            frames.append(locator.record_frame(key, tail, b"", record[1] if record else 0))
    for start in range(0, len(frames), _BATCH):
        ack = factory.client.appends.append(
            locator.records_stream, frames[start : start + _BATCH], frozenset()
        )
        if ack.get("error"):
            raise StreamConfigurationError(
                f"records of {events.stream} changed while they were written ({ack['error']}): "
                "stop every process that writes to the stream, then run the backfill again"
            )
    _mark(factory, events.stream, locator.records_stream)
    return BackfillReport(events.stream, len(tails), len(frames), several, already_complete=False)


def _tails_of_events(events: EventStream) -> dict[str, set[str]]:
    """Per aggregate key: the ``<tenant>.<type>`` of each subject its events are under."""
    skip = len(events.prefix) + 1
    tails: dict[str, set[str]] = {}
    for msg in events.reader.scan(events.reader.events_filter, 1):
        tail, _, key = msg.subject[skip:].rpartition(".")
        tails.setdefault(key, set()).add(tail)
    return tails


def _recorded_tails(events: EventStream) -> dict[str, tuple[str, int]]:
    """Per aggregate key: the ``<tenant>.<type>`` its latest record names, and its sequence."""
    prefix = records_prefix(events.prefix)
    records_stream = events.reader.locator.records_stream
    cursor = Cursor(events.client, records_stream, f"{prefix}.>", 1, READ_BATCH, replies.raw)
    recorded: dict[str, tuple[str, int]] = {}
    try:
        for page in cursor.pages():
            for seq, (block, _) in page:
                headers = replies.parse_headers(block)
                key = headers[h.NATS_SUBJECT][len(prefix) + 1 :]
                recorded[key] = (headers[h.AGGREGATE_SUBJECT], seq)
    finally:
        cursor.close()
    return recorded


def _mark(factory: Factory, stream: str, records_stream: str) -> None:
    """Name the records stream (by when it was made) in the events stream's metadata."""
    made = str(factory.client.api(f"STREAM.INFO.{records_stream}")["created"])
    config = factory.client.api(f"STREAM.INFO.{stream}")["config"]
    config["metadata"] = {**(config.get("metadata") or {}), STREAM_METADATA: made}
    factory.client.api(f"STREAM.UPDATE.{stream}", config)


def main() -> None:
    factory = Factory(Environment(env=dict(os.environ)))
    try:
        for snapshots in (False, True):
            if snapshots and not _exists(factory, factory.settings.snapshot_stream):
                continue
            report = backfill(factory, snapshots=snapshots)
            print(report, file=sys.stdout)
    finally:
        factory.close()


def _exists(factory: Factory, stream: str) -> bool:
    try:
        factory.client.api(f"STREAM.INFO.{stream}")
    except Exception:
        return False
    return True


if __name__ == "__main__":
    main()
