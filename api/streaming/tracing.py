"""A span per event a subscription pushes: in the trace of the command that stored the event
when it is pushed live, linked to it when it is replayed (the catch-up before `ready`).
Only with tracing on; the spans' context comes from the event's `traceparent` header."""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, ProxyTracerProvider, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from commands.ports.push import Frame

_W3C = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("cairn.push")


class PushSpans:
    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.on = not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
        self.live = False  # after the `ready` frame

    def sent(self, frame: Frame, started_ns: int) -> None:
        """`frame` was written to the subscriber, from `started_ns` until now."""
        if frame.kind == "ready":
            self.live = True
        if not self.on or not frame.events:
            return
        ended = time.time_ns()
        for event in frame.events:
            traceparent = event.header("traceparent")
            if not traceparent:
                continue
            stored = _W3C.extract({"traceparent": traceparent}, context=Context())
            links = None
            if not self.live:
                links = [Link(trace.get_current_span(stored).get_span_context())]
                stored = Context()
            span = _tracer.start_span(
                f"push {event.event_type}",
                context=stored,
                kind=SpanKind.PRODUCER,
                links=links,
                start_time=started_ns,
                attributes={
                    "cairn.push.transport": self.transport,
                    "cairn.position": event.seq,
                    "cairn.push.replay": not self.live,
                },
            )
            span.end(ended)
