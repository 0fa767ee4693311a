"""Gauges report whatever readings the processes registered (the audit checkpointer's hook
for unwitnessed events included); the dispatch records each command's latency and, inside a
request's trace, a span of its own."""

from __future__ import annotations

from typing import Any, cast
from uuid import uuid4

import pytest

from adapters.telemetry import metrics as gauges
from adapters.telemetry import tracing
from commands.base import Command, CommandResult, Issued
from commands.dispatch import Dispatcher, Ports, StoreConflict
from tests.support.telemetry import traced

pytestmark = pytest.mark.unit


def test_gauges_report_their_readings_until_closed() -> None:
    def broken() -> float:
        raise RuntimeError("down")

    with traced() as captured:
        unwitnessed = gauges.watch(gauges.UNWITNESSED_EVENTS, lambda: 42)
        lag = gauges.watch(
            gauges.PROJECTION_LAG,
            lambda: [(3, {"cairn.projector": "runs"}), (0, {"cairn.projector": "users"})],
        )
        failing = gauges.watch(gauges.WORKER_QUEUE_DEPTH, broken)
        nothing = gauges.watch(gauges.PUSH_SUBSCRIBERS, lambda: None)
        assert captured.gauge("cairn.audit.unwitnessed_events") == [(42.0, {})]
        assert sorted(captured.gauge("cairn.projection.lag")) == [
            (0.0, {"cairn.projector": "users"}),
            (3.0, {"cairn.projector": "runs"}),
        ]
        assert captured.gauge("cairn.worker.queue_depth") == []
        assert captured.gauge("cairn.push.subscribers") == []
        for watch in (unwitnessed, lag, failing, nothing):
            watch.close()
        assert captured.gauge("cairn.audit.unwitnessed_events") == []


class Ping(Command):
    fail: bool = False


def _ping(command: Ping, issued: Issued, ports: Ports) -> CommandResult:
    if command.fail:
        raise StoreConflict("lost a race")
    return CommandResult(ids={"id": str(uuid4())}, position=1)


def _histogram(captured: Any) -> list[tuple[int, dict[str, object]]]:
    data = captured.metrics.get_metrics_data()
    points = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "cairn.command.duration":
                    points += [(p.count, dict(p.attributes)) for p in metric.data.data_points]
    return points


def test_commands_are_timed_and_traced_inside_a_request() -> None:
    dispatcher = Dispatcher(cast(Ports, None), {Ping: _ping})
    with traced() as captured:
        dispatcher.dispatch(Ping(), Issued(command_id="k1"))  # no request span: no own span
        with tracing.tracer("test").start_as_current_span("POST /v1/ping") as request:
            dispatcher.dispatch(Ping(), Issued(command_id="k2"))
            with pytest.raises(StoreConflict):
                dispatcher.dispatch(Ping(fail=True), Issued())
        points = _histogram(captured)
    spans = captured.named("command Ping")
    assert len(spans) == 2
    assert all(s.parent and s.parent.span_id == request.get_span_context().span_id for s in spans)
    assert spans[0].attributes and spans[0].attributes["cairn.command_id"] == "k2"
    assert sorted((count, attrs["cairn.outcome"]) for count, attrs in points) == [
        (1, "conflict"),
        (2, "ok"),
    ]
