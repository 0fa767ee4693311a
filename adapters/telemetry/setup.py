"""Turning telemetry on in a process, from the standard OpenTelemetry variables.

Off by default: without ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` (``otlp`` or
``console``) or an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` and its per-signal
variants), no provider is installed and the instrumentation costs a check per boundary
(decision 0029). The OTLP exporters speak http/protobuf and read their own variables
(endpoint, headers, timeout, compression); the SDK reads the sampler, batch and export
interval ones. ``OTEL_SDK_DISABLED=true`` turns everything off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from adapters.telemetry import metrics as gauges
from adapters.telemetry.logs import FieldSource, add_field_source, configure_logging
from adapters.telemetry.tracing import installed, turn_on

logger = logging.getLogger("cairn.telemetry")

PROTOCOL: Final = "http/protobuf"
EXPORTERS: Final = ("otlp", "console", "none")


class TelemetryConfigError(ValueError):
    """An OTEL_* variable has a value Cairn does not support."""


@dataclass
class Telemetry:
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    instrumented: list[Any] = field(default_factory=list)  # psycopg's instrumentor

    def shutdown(self) -> None:
        """Export what is buffered, then stop (also done at interpreter exit by the SDK)."""
        for instrumentor in self.instrumented:
            instrumentor.uninstrument()
        if self.tracer_provider is not None:
            turn_on(False)
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


def _exporter(env: Mapping[str, str], signal: str) -> str:
    """``otlp``, ``console`` or ``none`` for ``signal`` (``TRACES`` or ``METRICS``)."""
    name = f"OTEL_{signal}_EXPORTER"
    chosen = env.get(name, "").strip().lower()
    if not chosen:
        endpoint = env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return "otlp" if endpoint else "none"
    if chosen not in EXPORTERS:
        raise TelemetryConfigError(f"{name} must be one of {', '.join(EXPORTERS)}, not {chosen!r}")
    if chosen == "otlp":
        for variable in (f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            protocol = env.get(variable, PROTOCOL).strip() or PROTOCOL
            if protocol != PROTOCOL:
                raise TelemetryConfigError(f"{variable}: Cairn exports {PROTOCOL}, not {protocol}")
    return chosen


def _span_processor(kind: str) -> SpanProcessor:
    if kind == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(OTLPSpanExporter())


def _metric_reader(kind: str) -> MetricReader:
    if kind == "console":
        return PeriodicExportingMetricReader(ConsoleMetricExporter())
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return PeriodicExportingMetricReader(OTLPMetricExporter())


def configure(
    service: str,
    env: Mapping[str, str] | None = None,
    *,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
) -> Telemetry:
    """Install the providers the environment asks for (plus the given processors and
    readers: tests), as this process's global ones; nothing if none is asked for, or if a
    provider was installed already."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Telemetry()
    traces, measures = _exporter(env, "TRACES"), _exporter(env, "METRICS")
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service})
    telemetry = Telemetry()
    processors = list(span_processors)
    if traces != "none":
        processors.append(_span_processor(traces))
    if processors and not installed():
        provider = TracerProvider(resource=resource)
        for processor in processors:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        # Imported only now: it patches psycopg's connect (and costs ~100 ms to import).
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        instrumentor = PsycopgInstrumentor()
        instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
        telemetry.tracer_provider = provider
        telemetry.instrumented.append(instrumentor)
        turn_on()
    readers = list(metric_readers)
    if measures != "none":
        readers.append(_metric_reader(measures))
    if readers:
        meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        metrics.set_meter_provider(meter_provider)
        gauges.install(meter_provider)
        telemetry.meter_provider = meter_provider
    if telemetry.tracer_provider or telemetry.meter_provider:
        logger.info("telemetry on: traces %s, metrics %s", traces, measures)
    return telemetry


def start_process(
    service: str, log_format: str = "text", fields: FieldSource | None = None
) -> Telemetry:
    """What a Cairn process does first: its logging (with `fields` in JSON records), then
    telemetry as the environment asks."""
    configure_logging(log_format)
    if fields is not None:
        add_field_source(fields)
    return configure(service)
