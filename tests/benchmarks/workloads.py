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


def median_of(runs: int, measure: Callable[[], Measurement]) -> Measurement:
    """The run with the median rate of `runs` runs of the same workload."""
    measured = sorted((measure() for _ in range(runs)), key=lambda m: m.events_per_second)
    return measured[len(measured) // 2]


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


async def raw_atomic_batches(
    nats_url: str, stream: str, writers: int, calls_per_writer: int, aggregates_per_batch: int
) -> Measurement:
    """The ceiling for atomic batches: frames of 100-event saves (the headers Cairn writes,
    expectation on each aggregate's first event) prebuilt before the clock starts, each batch
    written to a plain socket in one call, acks matched by a minimal protocol reader, on a
    stream configured as Cairn's. No client can do less per batch; ``aggregates_per_batch``
    saves share one atomic batch; ``writers`` batches are in flight at a time."""
    import json
    from urllib.parse import urlparse

    from adapters.jetstream import framing
    from adapters.jetstream import headers as h
    from adapters.jetstream.settings import JetStreamSettings
    from adapters.jetstream.stream import StreamSpec, desired_config

    url = urlparse(nats_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 4222)
    await reader.readline()  # INFO
    writer.write(
        b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,'
        b'"protocol":1}\r\nSUB _RAW.* 1\r\nPING\r\n'
    )
    while (line := await reader.readline()) != b"PONG\r\n":
        if line.startswith(b"-ERR") or not line:
            raise RuntimeError(f"raw NATS connection refused: {line!r}")
    waiting: dict[bytes, asyncio.Future[bytes]] = {}

    async def read_replies() -> None:
        while line := await reader.readline():
            if line.startswith((b"MSG ", b"HMSG ")):
                parts = line.split()
                data = await reader.readexactly(int(parts[-1]) + 2)
                future = waiting.pop(parts[1].rpartition(b".")[2], None)
                if future is not None and not future.done():
                    future.set_result(data)
            elif line.startswith(b"PING"):
                writer.write(b"PONG\r\n")

    replies = asyncio.create_task(read_replies())

    async def request(token: bytes, data: bytes) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        waiting[token] = future
        writer.write(data)
        return await asyncio.wait_for(future, 30)

    # The stream exactly as Cairn creates its events stream.
    spec = StreamSpec(stream, stream)
    config = desired_config(spec, JetStreamSettings(url=nats_url))
    body = json.dumps(config).encode()
    created = await request(
        b"create",
        b"PUB $JS.API.STREAM.CREATE.%s _RAW.create %d\r\n%s\r\n"
        % (stream.encode(), len(body), body),
    )
    if b'"error"' in created:
        raise RuntimeError(created.decode())

    base = b"".join(
        (h.header_line(h.TENANT, "system"), h.header_line(h.ACTOR, "system"), h.topic_line(TOPIC))
    )

    def batch(token: bytes) -> bytes:
        frames = []
        for _ in range(aggregates_per_batch):
            key = str(uuid.uuid4())
            subject = f"{stream}.system.Account.{key}".encode()
            for version in range(1, 101):
                lines = base + h.VERSION_LINE % version
                if version == 1:  # as Cairn's: on the aggregate's own subject (decision 0009)
                    lines += h.header_line(h.EXPECTED_LAST_SUBJECT_SEQ, "0")
                frames.append((subject, lines, PAYLOAD))
        return framing.atomic_batch(frames, uuid.uuid4().hex, b"_RAW." + token)

    prebuilt = {
        (w, c): batch(b"%dx%d" % (w, c)) for w in range(writers) for c in range(calls_per_writer)
    }
    latencies: list[float] = []

    async def run(index: int) -> None:
        for call in range(calls_per_writer):
            began = time.perf_counter()
            ack = await request(b"%dx%d" % (index, call), prebuilt[index, call])
            if b'"error"' in ack:
                raise RuntimeError(ack.decode())
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(writers)))
    seconds = time.perf_counter() - began
    replies.cancel()
    writer.close()
    events = writers * calls_per_writer * aggregates_per_batch * 100
    return Measurement("raw atomic batches", events, seconds, latencies)
