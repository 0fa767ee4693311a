"""OpenTelemetry for Cairn: traces across HTTP, commands, NATS, workers, projectors and push;
JSON logs with trace and correlation ids; gauges. Off unless the OTEL_* variables ask for it
(docs/observability.md, decision 0029)."""

from adapters.telemetry.logs import bound, configure_logging
from adapters.telemetry.setup import Telemetry, TelemetryConfigError, configure, start_process
from adapters.telemetry.tracing import enabled, header_lines

__all__ = [
    "Telemetry",
    "TelemetryConfigError",
    "bound",
    "configure",
    "configure_logging",
    "enabled",
    "header_lines",
    "start_process",
]
