"""JSON log records carry the trace and span of the work they were written in, the fields a
worker binds and those a process's sources give."""

from __future__ import annotations

import json
import logging

import pytest

from adapters.telemetry import logs, tracing
from adapters.telemetry.logs import JsonFormatter, add_field_source, bound, configure_logging
from tests.support.telemetry import traced

pytestmark = pytest.mark.unit


def _record(message: str, exc: BaseException | None = None) -> dict[str, object]:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord("cairn.test", logging.WARNING, __file__, 1, message, (), info)
    return dict(json.loads(JsonFormatter().format(record)))


def test_a_record_outside_any_trace_has_no_trace_id() -> None:
    body = _record("plain")
    assert body["message"] == "plain" and body["level"] == "WARNING"
    assert body["logger"] == "cairn.test"
    assert "trace_id" not in body and "correlation_id" not in body


def test_a_record_inside_a_span_names_its_trace_and_bound_ids() -> None:
    with traced(), tracing.tracer("test").start_as_current_span("work") as span:
        context = span.get_span_context()
        with bound(correlation_id="corr-1", run_id=None):
            body = _record("inside")
        after = _record("after")
    assert body["trace_id"] == format(context.trace_id, "032x")
    assert body["span_id"] == format(context.span_id, "016x")
    assert body["correlation_id"] == "corr-1" and "run_id" not in body
    assert "correlation_id" not in after  # the binding ended with its block


def test_field_sources_and_exceptions() -> None:
    def source() -> dict[str, str | None]:
        return {"request_id": "req-9", "nothing": None}

    add_field_source(source)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        body = _record("failed", exc)
    finally:
        logs._sources.remove(source)
    assert body["request_id"] == "req-9" and "nothing" not in body
    assert "ValueError: boom" in str(body["exception"])


def test_configure_logging_refuses_unknown_formats() -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        handler = configure_logging("json")
        assert isinstance(handler.formatter, JsonFormatter) and root.handlers == [handler]
        with pytest.raises(ValueError, match="log format"):
            configure_logging("xml")
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
