"""Aggregate loads on streams with few and with many tenants: what one load costs the client
(wall time) and nats-server (CPU), with aggregate records and without (streams from before
records, read as they were then: ``<prefix>.*.*.<id>``)."""

from __future__ import annotations

import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from uuid import UUID

import psutil
from eventsourcing.persistence import AggregateRecorder, StoredEvent

from domain.event_context import EventContext
from tests.benchmarks.workloads import PAYLOAD

TYPES = ("Run", "User", "Policy", "Connection")
PER_SAVE = 4  # other aggregates of one tenant created in one save
WRITERS = 32


@dataclass(frozen=True)
class LoadCost:
    """Per load: wall milliseconds and nats-server CPU milliseconds (None: not measurable)."""

    wall_ms: float
    server_cpu_ms: float | None


def _event(ids: list[UUID], i: int, version: int) -> StoredEvent:
    topic = f"bench.loads:{TYPES[i % len(TYPES)]}.Changed"
    return StoredEvent(ids[i], version, topic, PAYLOAD)


def _save(recorder: AggregateRecorder, work: tuple[str, list[StoredEvent]]) -> None:
    tenant, events = work
    recorder.insert_events(events, context=EventContext(tenant=tenant))


def populate(
    recorder: AggregateRecorder, others: list[UUID], loaded: list[UUID], tenants: int, versions: int
) -> None:
    """First the other aggregates, one event each, a few per tenant and save (they make the
    subjects); then the aggregates to load, version by version, interleaved, each of another
    tenant as far as there are tenants (like runs in progress): the end of the stream, which
    the server holds in memory, so a load measures its lookups rather than disk reads."""
    creations: list[tuple[str, list[StoredEvent]]] = []
    by_tenant: dict[str, list[StoredEvent]] = {}
    for i in range(len(others)):
        tenant = f"t{(i // PER_SAVE) % tenants}"
        by_tenant.setdefault(tenant, []).append(_event(others, i, 1))
        if len(by_tenant[tenant]) == PER_SAVE:
            creations.append((tenant, by_tenant.pop(tenant)))
    creations += by_tenant.items()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(lambda work: _save(recorder, work), creations))
    with ThreadPoolExecutor(WRITERS) as pool:
        for version in range(1, versions + 1):  # each version after the one before
            by_tenant = {}
            for i in range(len(loaded)):
                tenant = f"t{(i * tenants // len(loaded)) % tenants}"
                by_tenant.setdefault(tenant, []).append(_event(loaded, i, version))
            list(pool.map(lambda work: _save(recorder, work), by_tenant.items()))


def measure_loads(
    recorder: AggregateRecorder, sample: list[UUID], versions: int, server_pid: int | None
) -> LoadCost:
    """Loads the sampled aggregates one after another (all of their events each time)."""
    server = psutil.Process(server_pid) if server_pid is not None else None
    cpu_before = sum(server.cpu_times()[:2]) if server is not None else 0.0
    started = time.perf_counter()
    for aggregate in sample:
        events = recorder.select_events(aggregate)
        if len(events) != versions:
            raise AssertionError(f"{aggregate}: {len(events)} events, expected {versions}")
    wall = time.perf_counter() - started
    cpu = sum(server.cpu_times()[:2]) - cpu_before if server is not None else None
    return LoadCost(
        wall / len(sample) * 1000, cpu / len(sample) * 1000 if cpu is not None else None
    )


def median_cost(costs: list[LoadCost]) -> LoadCost:
    cpus = [c.server_cpu_ms for c in costs if c.server_cpu_ms is not None]
    return LoadCost(
        statistics.median(c.wall_ms for c in costs), statistics.median(cpus) if cpus else None
    )


def new_ids(count: int) -> list[UUID]:
    return [uuid.uuid4() for _ in range(count)]
