"""A subscription's pushes: events sent live join the trace of the command that stored them;
those of the catch-up before `ready` (a resume) only link to it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from adapters.telemetry import tracing
from api.streaming.tracing import PushSpans
from tests.support.telemetry import traced

pytestmark = pytest.mark.unit


@dataclass
class Event:
    seq: int
    traceparent: str | None
    event_type: str = "Run.PlanProposed"

    def header(self, name: str) -> str | None:
        return self.traceparent if name == "traceparent" else None


@dataclass
class Frame:
    kind: str
    events: tuple[Event, ...] = ()
    position: int = 0
    error: dict[str, object] = field(default_factory=dict)
    status: int = 0


def test_catch_up_pushes_link_live_pushes_parent() -> None:
    with traced() as captured:
        with tracing.tracer("test").start_as_current_span("publish") as stored:
            context = stored.get_span_context()
        traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-01"
        spans = PushSpans("sse")
        spans.sent(Frame("event", (Event(1, traceparent), Event(2, None))), 0)  # type: ignore[arg-type]
        spans.sent(Frame("ready", position=2), 0)  # type: ignore[arg-type]
        spans.sent(Frame("event", (Event(3, traceparent),)), 0)  # type: ignore[arg-type]
    replayed, live = captured.named("push Run.PlanProposed")
    assert replayed.parent is None and replayed.context.trace_id != context.trace_id
    assert [link.context.span_id for link in replayed.links] == [context.span_id]
    assert live.context.trace_id == context.trace_id
    assert live.parent is not None and live.parent.span_id == context.span_id
    assert (live.attributes or {})["cairn.position"] == 3


def test_nothing_is_made_with_tracing_off() -> None:
    spans = PushSpans("websocket")
    spans.sent(Frame("ready"), 0)  # type: ignore[arg-type]
    assert spans.live and not spans.on
