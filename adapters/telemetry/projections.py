"""Spans of projector batches: one span per committed batch, linked to the traces of its
events; in live mode also one span per event, in the trace of the command that stored it (a
replay or a rebuild only links: it must not graft hours-old events onto their traces)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind

from adapters.telemetry import tracing

_tracer = tracing.tracer("cairn.projections")


@contextmanager
def projecting(projector: str, events: Sequence[Any], end: int, *, live: bool) -> Iterator[None]:
    """Around the commit of a batch of `events` (notifications) up to position `end`."""
    if not tracing.enabled():
        yield
        return
    attributes: dict[str, str | int] = {
        "cairn.projector": projector,
        "cairn.position": end,
        "messaging.operation.type": "process",
        "messaging.batch.message_count": len(events),
    }
    started = time.time_ns()
    with _tracer.start_as_current_span(
        f"project {projector}",
        context=tracing.root(),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        links=tracing.links_to(events),
    ) as batch:
        yield
    if not live:
        return
    ended, link = time.time_ns(), [Link(batch.get_span_context())]
    for event in events:
        stored_by = tracing.carried(event)
        if stored_by is None:
            continue
        topic = str(getattr(event, "topic", ""))
        span = _tracer.start_span(
            f"project {topic.rpartition(':')[2] or 'event'}",
            context=trace.set_span_in_context(NonRecordingSpan(stored_by)),
            kind=SpanKind.CONSUMER,
            attributes={"cairn.projector": projector, "cairn.position": getattr(event, "id", 0)},
            links=link,
            start_time=started,
        )
        span.end(ended)
