"""Telemetry is off unless the standard OTEL_* variables ask for it, and refuses what Cairn
cannot export."""

from __future__ import annotations

import pytest

from adapters.telemetry import tracing
from adapters.telemetry.setup import TelemetryConfigError, _exporter, configure

pytestmark = pytest.mark.unit


def test_nothing_asked_for_installs_nothing() -> None:
    telemetry = configure("cairn-test", {})
    assert telemetry.tracer_provider is None and telemetry.meter_provider is None
    assert not tracing.enabled() and not tracing.installed()
    assert tracing.header_lines() == b""


@pytest.mark.parametrize(
    ("env", "traces", "metrics"),
    [
        ({}, "none", "none"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp", "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, "otlp", "none"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console", "none"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "none"},
            "otlp",
            "none",
        ),
    ],
)
def test_which_exporters_the_environment_asks_for(
    env: dict[str, str], traces: str, metrics: str
) -> None:
    assert (_exporter(env, "TRACES"), _exporter(env, "METRICS")) == (traces, metrics)


def test_unsupported_values_are_named() -> None:
    with pytest.raises(TelemetryConfigError, match="OTEL_TRACES_EXPORTER"):
        _exporter({"OTEL_TRACES_EXPORTER": "jaeger"}, "TRACES")
    grpc = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(TelemetryConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        _exporter(grpc, "TRACES")


def test_the_sdk_switch_wins() -> None:
    env = {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}
    telemetry = configure("cairn-test", env)
    assert telemetry.tracer_provider is None and not tracing.enabled()
