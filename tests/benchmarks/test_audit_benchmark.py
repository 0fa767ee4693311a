"""Audit log benchmark: leaves hashed per second by the checkpointer, checkpoint lag under the
event store's batched append load, and `cairn audit verify` on a large export beside a floor
that does only the hashing (hashlib) in the same run. Writes docs/benchmarks/audit.md.

CAIRN_BENCH_AUDIT_EVENTS sets the export's size (default 1,000,000); CAIRN_BENCH_SCALE the
store workloads (default 1.0). The machine's load is in the report's numbers: rerun quiet.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.audit.checkpointer import Checkpointer, Schedule
from adapters.audit.keys import Ed25519Signer, Ed25519Verifier
from adapters.push.store import StoreReader
from domain.audit.log import AuditLog, LogMessage, write_export
from domain.audit.verify import ExportVerifier
from entrypoints.audit_verify import verify_file
from infra.stack.launcher import StackEndpoints
from tests.benchmarks import report
from tests.benchmarks.test_event_store_benchmark import _jetstream_factory
from tests.benchmarks.workloads import TOPIC

pytestmark = pytest.mark.benchmark

EXPORT_EVENTS = int(os.environ.get("CAIRN_BENCH_AUDIT_EVENTS", "1000000"))
SCALE = float(os.environ.get("CAIRN_BENCH_SCALE", "1.0"))
STORE_EVENTS = max(5_000, int(50_000 * SCALE))  # appended in batches of 100
WRITERS = 8
CHECKPOINT_EVERY = 10_000
ORIGIN = "bench.cairn/audit"
KEY = Ed25519Signer(ORIGIN, 1, bytes(32))
TENANTS = [str(uuid.UUID(int=n + 1)) for n in range(3)]
PAYLOAD = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-06T05:00:00+00:00"},' + (
    b'"details":{"n":1},"kind":"push.test","outcome":"ok","tenant_id":"x"}'
)


def messages(count: int) -> Iterator[LogMessage]:
    for seq in range(1, count + 1):
        subject = f"cairn.{TENANTS[seq % 3]}.SecurityEvent.{uuid.UUID(int=seq // 5)}"
        yield LogMessage(seq, subject, "" if seq % 4 else f"cmd-{seq}", PAYLOAD)


def build_export(path: Path, count: int) -> float:
    """Write the export; the seconds the log took to hash its leaves (the checkpointer's work)."""
    log = AuditLog()
    notes = []
    began = time.perf_counter()
    for message in messages(count):
        log.append(message)
        if log.size % CHECKPOINT_EVERY == 0 or log.size == count:
            notes.append(str(log.checkpoint(ORIGIN, KEY)))
    hashed = time.perf_counter() - began
    with path.open("w") as out:
        write_export(out, ORIGIN, messages(count), notes)
    return hashed


def hashlib_floor(count: int) -> float:
    """The hashing alone that verifying an event needs: its data, its envelope, one node."""
    sha256 = hashlib.sha256
    envelope = b"cairn.audit.leaf/1\n" + b"x" * 120
    node = b"\x01" + b"y" * 64
    began = time.perf_counter()
    for _ in range(count):
        sha256(PAYLOAD).digest()
        sha256(b"\x00" + envelope).digest()
        sha256(node).digest()
    return time.perf_counter() - began


@pytest.mark.timeout(3600)  # a million events, twice, on a shared machine
def test_verify_and_leaf_hashing(tmp_path: Path) -> None:
    export = tmp_path / "export.ndjson"
    hashed = build_export(export, EXPORT_EVENTS)
    timings = {}
    for jobs in (1, 2):
        verifier = ExportVerifier([Ed25519Verifier(KEY.verifier_key)])
        began = time.perf_counter()
        result = verify_file(export, verifier, quiet=True, jobs=jobs)
        timings[jobs] = time.perf_counter() - began
        assert result.clean, result.findings[:5]
        assert result.leaves == EXPORT_EVENTS
    verified = timings[1]
    floor = hashlib_floor(EXPORT_EVENTS)
    size_mb = export.stat().st_size / 1e6
    rows = [
        ("checkpointer: leaves hashed into the tree (AuditLog.append)", hashed),
        (f"`cairn audit verify` of the export ({size_mb:,.0f} MB, no policy replay)", verified),
        ("`cairn audit verify --jobs 2` (two processes)", timings[2]),
        ("floor: the same hashing with hashlib alone, one process", floor),
    ]
    body = [
        f"## Hashing and verification ({EXPORT_EVENTS:,} events)",
        "",
        "| work | seconds | events/s |",
        "|---|---:|---:|",
        *(f"| {name} | {seconds:.2f} | {EXPORT_EVENTS / seconds:,.0f} |" for name, seconds in rows),
        "",
        f"One process verifies at {floor / verified:.0%} of the hashlib floor's rate "
        "(goal: 200,000 events/s).",
    ]
    report.write_section("audit.md", "Hashing and verification", body[2:])
    print("\n".join(body))


async def _follow(
    stack: StackEndpoints, name: str, stop: threading.Event, stored: list[tuple[float, int]]
) -> tuple[float, int]:
    """Run a checkpointer until `stop`; (seconds of its first catch-up, leaves then)."""
    nc = await nats.connect(stack.nats_url)
    reader = StoreReader(nc, name, name, timeout=30)
    await reader.start()
    try:
        pointer = Checkpointer(nc, reader, ORIGIN, KEY, [], Schedule(1, CHECKPOINT_EVERY))
        began = time.perf_counter()
        await pointer.start()
        first = (time.perf_counter() - began, pointer.log.size)
        while not stop.is_set() or pointer.pending:
            await pointer.catch_up()
            if pointer.due():
                await pointer.checkpoint()
                stored.append((time.perf_counter(), pointer.log.size))
            await asyncio.sleep(0.05)
        return first
    finally:
        await reader.close()
        await nc.close()


@pytest.mark.timeout(1800)
def test_checkpointer_catch_up_and_lag(stack: StackEndpoints, unique_name: str) -> None:
    factory = _jetstream_factory(stack, unique_name)
    recorder = factory.application_recorder()
    appended: list[tuple[float, int]] = []
    lock = threading.Lock()

    def write(batches: int) -> None:
        for _ in range(batches):
            aggregate = uuid.uuid4()
            events = [StoredEvent(aggregate, v, TOPIC, PAYLOAD) for v in range(1, 101)]
            recorder.insert_events(events)
            with lock:
                appended.append((time.perf_counter(), recorder.max_notification_id() or 0))

    # Catch-up from the store: a backlog of half the events, read and hashed at start.
    write(STORE_EVENTS // 200)
    stop = threading.Event()
    stored: list[tuple[float, int]] = []
    result: list[tuple[float, int]] = []
    follower = threading.Thread(
        target=lambda: result.append(asyncio.run(_follow(stack, unique_name, stop, stored)))
    )
    follower.start()
    while not stored and follower.is_alive():
        time.sleep(0.05)
    backlog_end = len(appended)
    began = time.perf_counter()
    writers = [
        threading.Thread(target=write, args=(STORE_EVENTS // 200 // WRITERS,))
        for _ in range(WRITERS)
    ]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    append_seconds = time.perf_counter() - began
    stop.set()
    follower.join(120)
    factory.close()
    (catch_up_s, caught_up) = result[0]
    lags = sorted(
        next(at for at, size in stored if size >= seq) - when
        for when, seq in appended[backlog_end:]
        if any(size >= seq for _, size in stored)
    )
    appended_events = (len(appended) - backlog_end) * 100
    assert lags and caught_up > 0
    body = [
        f"Stream of {STORE_EVENTS:,} events appended in batches of 100 (the store's batched "
        f"append path), {WRITERS} writer threads; checkpoints every 1 s or "
        f"{CHECKPOINT_EVERY:,} messages, no witness.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| catch-up at start: leaves read from the store and hashed | {caught_up:,} in "
        f"{catch_up_s:.2f} s ({caught_up / catch_up_s:,.0f}/s) |",
        f"| append rate while checkpointing | {appended_events / append_seconds:,.0f} events/s |",
        f"| checkpoint lag p50 (append acknowledged to covered by a stored checkpoint) | "
        f"{lags[len(lags) // 2] * 1000:,.0f} ms |",
        f"| checkpoint lag p99 | {lags[int(len(lags) * 0.99)] * 1000:,.0f} ms |",
        f"| checkpoint lag max | {lags[-1] * 1000:,.0f} ms |",
        f"| checkpoints stored | {len(stored)} |",
    ]
    report.write_section("audit.md", "Checkpointer under load", body)
    print("\n".join(body))
