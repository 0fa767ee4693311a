"""The trace context on NATS messages: written as header lines, read back from headers and
from the notifications a reader makes; a consumer continues the trace, a replay links to it."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry.trace import SpanKind

from adapters.jetstream.notifications import Notifications
from adapters.jetstream.traced import TracedNotifications
from adapters.telemetry import tracing
from adapters.telemetry.projections import projecting
from tests.support.telemetry import traced

pytestmark = pytest.mark.unit

RUN_ID = uuid.uuid4()


def _block(traceparent: str | None, seq: int = 7) -> bytes:
    lines = [
        "NATS/1.0",
        f"Nats-Subject: cairn.t1.Run.{RUN_ID}",
        f"Nats-Sequence: {seq}",
        "Cairn-Topic: domain.runs.run:Run.IntentSubmitted",
        "Cairn-Originator-Version: 1",
    ]
    if traceparent is not None:
        lines.append(f"traceparent: {traceparent}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _headers_of(lines: bytes) -> dict[str, str]:
    pairs = [line.split(": ", 1) for line in lines.decode().split("\r\n") if line]
    return {name: value for name, value in pairs}


def test_header_lines_carry_the_current_span_and_are_read_back() -> None:
    with traced(), tracing.tracer("test").start_as_current_span("publish") as span:
        lines = tracing.header_lines()
    headers = _headers_of(lines)
    assert list(headers) == ["traceparent"]
    found = tracing.span_context_of(headers["traceparent"])
    assert found is not None and found.is_remote
    assert (found.trace_id, found.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )
    assert tracing.span_context_of("00-garbage") is None
    assert tracing.header_lines() == b""  # tracing off again


def test_a_consumer_continues_the_trace_and_a_replay_links_to_it() -> None:
    with traced() as captured:
        with tracing.tracer("test").start_as_current_span("publish") as sent:
            headers = _headers_of(tracing.header_lines())
        with tracing.consuming("process live", headers, {"messaging.system": "nats"}):
            pass
        with tracing.consuming("process replay", headers, {}, link_only=True):
            pass
    published = sent.get_span_context()
    (live,) = captured.named("process live")
    (replay,) = captured.named("process replay")
    assert live.kind is SpanKind.CONSUMER
    assert live.context.trace_id == published.trace_id
    assert live.parent is not None and live.parent.span_id == published.span_id
    assert replay.parent is None and replay.context.trace_id != published.trace_id
    assert [link.context.span_id for link in replay.links] == [published.span_id]


def test_the_traced_reader_leaves_each_events_traceparent_on_its_notification() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    plain, with_trace = Notifications(event_dots=3), TracedNotifications(event_dots=3)
    messages = [(_block(traceparent, 7), b"{}"), (_block(None, 8), b"{}")]
    (_, first), (_, second) = with_trace(messages)
    assert getattr(first, "traceparent", None) == traceparent
    assert not hasattr(second, "traceparent")
    found = tracing.carried(first)
    assert found is not None and format(found.trace_id, "032x") == traceparent[3:35]
    assert [n for _, n in plain(messages)] == [first, second]  # the same notifications


def _notification(seq: int, traceparent: str) -> object:
    (_, made), *_ = TracedNotifications(event_dots=3)([(_block(traceparent, seq), b"{}")])
    return made


def test_live_projection_spans_join_the_events_traces_replays_only_link() -> None:
    with traced() as captured:
        stored = []
        for _ in range(2):
            with tracing.tracer("test").start_as_current_span("publish") as span:
                stored.append(span.get_span_context())
        events = [
            _notification(n, f"00-{c.trace_id:032x}-{c.span_id:016x}-01")
            for n, c in enumerate(stored, 1)
        ]
        with projecting("runs", events, 2, live=True):
            pass
        with projecting("runs", events, 2, live=False):
            pass
    batches = captured.named("project runs")
    assert len(batches) == 2
    for batch in batches:
        assert batch.parent is None
        assert [link.context.span_id for link in batch.links] == [c.span_id for c in stored]
    per_event = captured.named("project Run.IntentSubmitted")
    assert len(per_event) == 2  # from the live batch only
    for one, publisher in zip(per_event, stored, strict=True):
        assert one.context.trace_id == publisher.trace_id
        assert one.parent is not None and one.parent.span_id == publisher.span_id
        assert one.links[0].context.span_id == batches[0].context.span_id
