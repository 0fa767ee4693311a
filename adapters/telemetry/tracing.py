"""Spans at Cairn's boundaries, and the trace context that NATS messages carry.

Tracing is on when a tracer provider of the SDK was installed (``setup.configure``, from the
standard ``OTEL_*`` variables, or a test's in-memory one); otherwise every helper here returns
at once, and no message gets a trace header.

The context travels in W3C ``traceparent`` / ``tracestate`` NATS headers, never in an event's
payload: headers are not part of what the audit log hashes (the server may rewrite them).
A consumer handling one live message continues its trace (parent); a batch, a replay or a
rebuild links to the traces of the messages it read instead (``link_only``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, ProxyTracerProvider, Span, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
# Where the event store's reader leaves an event's `traceparent` on the notification it makes.
NOTIFICATION_ATTRIBUTE: Final = "traceparent"
# The most links one batch span carries (the SDK keeps 128 by default).
MAX_LINKS: Final = 64
NATS: Final = "nats"

_W3C = TraceContextTextMapPropagator()
_ROOT = Context()  # an empty context: a span started in it has no parent


_on = False  # set by ``turn_on`` (setup.configure): a flag, as asking the API costs ~1 us


def enabled() -> bool:
    """Whether this process installed a tracer provider of the SDK."""
    return _on


def turn_on(on: bool = True) -> None:
    global _on
    _on = on


def installed() -> bool:
    """Whether a real tracer provider is installed (the API's default is a no-op proxy)."""
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def header_lines() -> bytes:
    """The current span's ``traceparent`` (and ``tracestate``) as NATS header lines; empty
    without a current span, or with tracing off."""
    if not enabled():
        return b""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return b"".join(
        f"{name}: {value}\r\n".encode()
        for name, value in carrier.items()
        if value.isascii() and "\r" not in value and "\n" not in value
    )


def context_of(headers: Mapping[str, str]) -> Context:
    """The trace context a message's headers carry (an empty one if none)."""
    return _W3C.extract(headers, context=_ROOT)


def span_context_of(traceparent: str | None) -> SpanContext | None:
    """The remote span a ``traceparent`` value names, if it is a valid one."""
    if not traceparent:
        return None
    found = trace.get_current_span(context_of({TRACEPARENT: traceparent})).get_span_context()
    return found if found.is_valid else None


def carried(notification: object) -> SpanContext | None:
    """The span that stored an event, from what the reader left on its notification."""
    return span_context_of(getattr(notification, NOTIFICATION_ATTRIBUTE, None))


def messaging(operation: str, destination: str, **extra: Any) -> dict[str, Any]:
    """OpenTelemetry messaging attributes of a NATS operation (``send``, ``process``...)."""
    attributes: dict[str, Any] = {
        "messaging.system": NATS,
        "messaging.operation.type": operation,
        "messaging.destination.name": destination,
    }
    attributes.update({key: value for key, value in extra.items() if value is not None})
    return attributes


@contextmanager
def consuming(
    name: str,
    headers: Mapping[str, str],
    attributes: Mapping[str, Any],
    *,
    link_only: bool = False,
) -> Iterator[Span | None]:
    """A CONSUMER span for one message: a child of the span that published it, or (a replay)
    a new trace linked to it. Nothing with tracing off."""
    if not enabled():
        yield None
        return
    parent = context_of(headers)
    links = None
    if link_only:
        published = trace.get_current_span(parent).get_span_context()
        links = [Link(published)] if published.is_valid else None
        parent = _ROOT
    with tracer("cairn.messaging").start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=dict(attributes), links=links
    ) as span:
        yield span


def links_to(notifications: Sequence[object]) -> list[Link]:
    """Links to the spans that stored these events (at most ``MAX_LINKS``)."""
    links: list[Link] = []
    for notification in notifications:
        found = carried(notification)
        if found is not None:
            position = getattr(notification, "id", None)
            links.append(Link(found, {"cairn.position": position} if position else None))
            if len(links) >= MAX_LINKS:
                break
    return links


def root() -> Context:
    """An empty context: spans of replays and rebuilds start new traces from it."""
    return _ROOT
