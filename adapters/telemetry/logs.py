"""Log records as one JSON object a line, with the trace, span and correlation ids of the
work they were written in (``CAIRN_LOG_FORMAT=json``); or the plain text format.

Where the ids come from: the current span (trace and span id), ``bound`` fields (a worker
binds the correlation id of the event it handles), and the field sources a process adds (the
API adds its request and correlation ids, which its middleware keeps).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from opentelemetry import trace

TEXT_FORMAT: Final = "%(asctime)s %(name)s %(message)s"
FORMATS: Final = ("text", "json")

FieldSource = Callable[[], Mapping[str, str | None]]

_NONE: Mapping[str, str] = MappingProxyType({})
_bound: ContextVar[Mapping[str, str]] = ContextVar("cairn_log_fields", default=_NONE)
_sources: list[FieldSource] = []


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Records written inside carry these fields (None values are left out)."""
    token = _bound.set({**_bound.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def add_field_source(source: FieldSource) -> None:
    """Fields asked of ``source`` for every JSON record (None values are left out)."""
    if source not in _sources:
        _sources.append(source)


def current_fields() -> dict[str, str]:
    fields: dict[str, str] = {}
    for source in _sources:
        fields.update({k: v for k, v in source().items() if v is not None})
    fields.update(_bound.get())
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        fields["trace_id"] = format(span.trace_id, "032x")
        fields["span_id"] = format(span.span_id, "016x")
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update(current_fields())
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> logging.Handler:
    """One handler on the root logger, writing to stderr in ``log_format``."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
