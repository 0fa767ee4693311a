"""Timed workloads for the event store benchmark: the same events through different stacks."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

TOPIC = "bench.aggregate:Account.Credited"
PAYLOAD = b'{"amount":"12.50","currency":"EUR","note":"' + b"x" * 120 + b'"}'


@dataclass(frozen=True)
class Measurement:
    name: str
    events: int
    seconds: float
    latencies_ms: Sequence[float]

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return self.percentile(99)


def events_for(aggregate: uuid.UUID, first_version: int, count: int) -> list[StoredEvent]:
    return [
        StoredEvent(aggregate, version, TOPIC, PAYLOAD)
        for version in range(first_version, first_version + count)
    ]


def run_threads(
    name: str,
    writers: int,
    calls_per_writer: int,
    events_per_call: int,
    insert: Callable[[list[StoredEvent]], object],
) -> Measurement:
    """Each writer owns one aggregate per call batch and saves versions in order."""
    latencies: list[float] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def writer() -> None:
        mine: list[float] = []
        aggregate = uuid.uuid4()
        version = 1
        start_gate.wait()
        try:
            for _ in range(calls_per_writer):
                if events_per_call > 1:
                    aggregate, version = uuid.uuid4(), 1
                batch = events_for(aggregate, version, events_per_call)
                began = time.perf_counter()
                insert(batch)
                mine.append((time.perf_counter() - began) * 1000)
                version += events_per_call
        except BaseException as exc:
            errors.append(exc)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if errors:
        raise errors[0]
    return Measurement(name, writers * calls_per_writer * events_per_call, seconds, latencies)


def replay(name: str, recorder: ApplicationRecorder, page: int = 1000) -> Measurement:
    began = time.perf_counter()
    count, start = 0, 1
    while True:
        notifications = recorder.select_notifications(start=start, limit=page)
        if not notifications:
            break
        count += len(notifications)
        start = notifications[-1].id + 1
    return Measurement(name, count, time.perf_counter() - began, [])


async def raw_publish(
    nats_url: str, stream: str, writers: int, calls_per_writer: int, events_per_call: int
) -> Measurement:
    """Plain nats-py JetStream publishes of the same bytes: the client stack's own limit."""
    import nats
    from nats.js.api import StorageType, StreamConfig

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(
        StreamConfig(name=stream, subjects=[f"{stream}.>"], storage=StorageType.FILE)
    )
    latencies: list[float] = []

    async def writer(index: int) -> None:
        for call in range(calls_per_writer):
            began = time.perf_counter()
            if events_per_call == 1:
                await js.publish(f"{stream}.w{index}", PAYLOAD)
            else:
                # The same pipelining a batch save can use: send all, then gather the acks.
                subject = f"{stream}.w{index}.c{call}"
                await asyncio.gather(
                    *(js.publish(subject, PAYLOAD) for _ in range(events_per_call))
                )
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(writers)))
    seconds = time.perf_counter() - began
    await nc.close()
    name = "raw nats-py publish"
    return Measurement(name, writers * calls_per_writer * events_per_call, seconds, latencies)
