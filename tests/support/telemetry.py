"""Telemetry turned on for one test: spans into memory (and, if asked, to an OTLP receiver),
metrics into an in-memory reader; everything global put back as it was afterwards, so later
tests of the same process run with tracing off."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from adapters.telemetry.setup import Telemetry, configure


@dataclass
class Captured:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    telemetry: Telemetry

    def finished(self) -> Sequence[ReadableSpan]:
        return self.spans.get_finished_spans()

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name.startswith(prefix)]

    def gauge(self, name: str) -> list[tuple[float, dict[str, object]]]:
        """The points of one metric at a collection now."""
        data = self.metrics.get_metrics_data()
        found: list[tuple[float, dict[str, object]]] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            value = getattr(point, "value", None)
                            if value is None:
                                value = getattr(point, "sum", 0)
                            found.append((float(value or 0), dict(point.attributes or {})))
        return found


def _forget_providers() -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    # Module-level proxy tracers keep the real tracer they were first given: forget it.
    for obj in gc.get_objects():
        if type(obj) is trace.ProxyTracer:  # not isinstance: dead weak proxies raise
            obj._real_tracer = None


@contextmanager
def traced(service: str = "cairn-test", otlp_endpoint: str | None = None) -> Iterator[Captured]:
    """Tracing and metrics on (no OTEL_* variable is read), for the body of the with."""
    exporter = InMemorySpanExporter()
    processors: list[SpanProcessor] = [SimpleSpanProcessor(exporter)]
    if otlp_endpoint is not None:
        otlp = OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces")
        processors.append(SimpleSpanProcessor(otlp))
    reader = InMemoryMetricReader()
    _forget_providers()
    telemetry = configure(service, {}, span_processors=processors, metric_readers=[reader])
    try:
        yield Captured(exporter, reader, telemetry)
    finally:
        telemetry.shutdown()
        _forget_providers()
