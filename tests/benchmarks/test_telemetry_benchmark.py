"""What the OpenTelemetry instrumentation costs (decision 0029). Writes
docs/benchmarks/telemetry.md.

1. Off (the default): the checks added to the hot path of a run, each timed alone against
   the code path without them, and summed for one run; compared with the server CPU per run
   of docs/benchmarks/runs.md. (Appends and reads choose their traced classes when they are
   made, so with tracing off they run exactly the code they ran before.)
2. On, with spans dropped by their exporter: the event store's appends (single saves and
   100-event batches from 32 writers) against the same appends with tracing off.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, cast

import pytest
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from adapters.jetstream.work import WorkItem
from adapters.telemetry.projections import projecting
from adapters.telemetry.setup import configure
from api.streaming.tracing import PushSpans
from commands.base import Command, CommandResult, Issued
from commands.dispatch import Dispatcher, Ports
from commands.worker_service import WorkerService
from infra.stack.launcher import StackEndpoints
from tests.benchmarks import report
from tests.benchmarks.workloads import Measurement, run_threads
from tests.support.telemetry import _forget_providers

pytestmark = pytest.mark.benchmark

CALLS = 20_000
RUN_CPU_MS = 35.0  # server CPU per run, docs/benchmarks/runs.md (50 users back to back)
# Per run: one command, six run events through a worker, six pushed frames, six projector
# batches (live, one event each: the worst case).
PER_RUN = {"command": 1, "worker event": 6, "push frame": 6, "projector batch": 6}
WRITERS = 32
SINGLE_CALLS = 60
BATCH_WRITERS = 16
BATCH_CALLS = 10
REPEATS = 3


def _per_call_us(call: Callable[[], object], calls: int = CALLS) -> float:
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - began) / calls)
    return best * 1e6


class Ping(Command):
    pass


def _ping(command: Ping, issued: Issued, ports: Ports) -> CommandResult:
    return CommandResult()


def _off_path() -> list[tuple[str, float, float]]:
    """(boundary, us with the instrumentation, us without it) per call, tracing off."""
    dispatcher = Dispatcher(cast(Ports, None), {Ping: _ping})
    command, issued = Ping(), Issued()
    item = WorkItem("cairn.t.Run.x", {"Cairn-Correlation-Id": "c1"}, 1, 1)
    worker = cast(Any, SimpleNamespace(_handle=lambda item: None))
    frame = cast(Any, SimpleNamespace(kind="event", events=(), position=1))
    spans = PushSpans("sse")
    events: Sequence[object] = ()
    return [
        (
            "command",
            _per_call_us(lambda: dispatcher.dispatch(command, issued)),
            _per_call_us(lambda: _ping(command, issued, cast(Ports, None))),
        ),
        (
            "worker event",
            _per_call_us(lambda: WorkerService.handle(worker, item)),
            _per_call_us(lambda: worker._handle(item)),
        ),
        ("push frame", _per_call_us(lambda: spans.sent(frame, 0)), 0.0),
        (
            "projector batch",
            _per_call_us(lambda: _in(projecting("runs", events, 1, live=True))),
            0.0,
        ),
    ]


def _median(runs: list[Measurement]) -> Measurement:
    return sorted(runs, key=lambda m: m.events_per_second)[len(runs) // 2]


def _in(manager: Any) -> None:
    with manager:
        pass


class Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@contextmanager
def _tracing(on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    _forget_providers()
    telemetry = configure("cairn-bench", {}, span_processors=[BatchSpanProcessor(Dropped())])
    try:
        yield
    finally:
        telemetry.shutdown()
        _forget_providers()


def _appends(stack: StackEndpoints, on: bool, single: bool) -> Measurement:
    name = f"bench{uuid.uuid4().hex[:10]}"
    with _tracing(on):
        env = Environment(
            name="bench",
            env={
                "PERSISTENCE_MODULE": "adapters.jetstream",
                "NATS_URL": stack.nats_url,
                "NATS_STREAM": name,
                "NATS_SUBJECT_PREFIX": name,
            },
        )
        factory = InfrastructureFactory[TrackingRecorder].construct(env)
        recorder = factory.application_recorder()
        assert isinstance(recorder, ApplicationRecorder)
        try:
            label = "tracing on" if on else "tracing off"
            if single:
                return run_threads(
                    f"single saves, {label}", WRITERS, SINGLE_CALLS, 1, recorder.insert_events
                )
            return run_threads(
                f"100-event saves, {label}", BATCH_WRITERS, BATCH_CALLS, 100, recorder.insert_events
            )
        finally:
            client = getattr(factory, "client", None)
            if client is not None:
                client.api(f"STREAM.DELETE.{name}")
            factory.close()


def test_what_the_instrumentation_costs(stack: StackEndpoints) -> None:
    boundaries = _off_path()
    per_run_us = sum((used - bare) * PER_RUN[name] for name, used, bare in boundaries)
    rows: list[Measurement] = []
    ratios: list[str] = []
    for single in (True, False):
        # Alternated, so that the machine's other work weighs on both alike.
        runs = [_appends(stack, on, single) for _ in range(REPEATS) for on in (False, True)]
        off, on = _median(runs[0::2]), _median(runs[1::2])
        rows += [off, on]
        ratios.append(
            f"| {off.name.split(',')[0]} | {off.events_per_second:,.0f} "
            f"| {on.events_per_second:,.0f} | {on.events_per_second / off.events_per_second:.2f} "
            f"| {on.p50 / off.p50:.2f} |"
        )
    body = [
        "What the OpenTelemetry instrumentation costs (decision 0029; "
        "`tests/benchmarks/test_telemetry_benchmark.py`).",
        "",
        "## Off (the default): the checks added to a run's hot path",
        "",
        "Each boundary's call timed with its instrumentation and without (the bare call), "
        f"tracing off, best of 5 x {CALLS:,} calls.",
        "",
        "| boundary | us per call | bare us | added us | per run | added us per run |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {used:.2f} | {bare:.2f} | {used - bare:.2f} | {PER_RUN[name]} "
            f"| {(used - bare) * PER_RUN[name]:.2f} |"
            for name, used, bare in boundaries
        ),
        "",
        f"Added per run: {per_run_us:.1f} us, against {RUN_CPU_MS:.0f} ms of server CPU per run "
        f"(docs/benchmarks/runs.md): a ratio of {1 + per_run_us / (RUN_CPU_MS * 1000):.4f}. "
        "Appends and reads are unchanged with tracing off (the traced classes are chosen "
        "when the client and the reader are made).",
        "",
        "## On: event-store appends with a span each and trace headers",
        "",
        "Spans go to a batch processor whose exporter drops them (the cost of making and "
        "queueing spans, no network). Median of 3 runs each, off and on in the same session.",
        "",
        *report.table(rows),
        "",
        "| saves | events/s off | events/s on | throughput on/off | p50 on/off |",
        "|---|---:|---:|---:|---:|",
        *ratios,
    ]
    path = report.write("telemetry.md", "Telemetry cost", body)
    print(path.read_text())
    assert per_run_us > 0
