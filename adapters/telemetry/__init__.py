"""OpenTelemetry for Cairn: traces across HTTP, commands, NATS, workers, projectors and push;
JSON logs with trace and correlation ids; gauges. Off unless the OTEL_* variables ask for it
(docs/observability.md, decision 0029).

Import the modules themselves (``setup``, ``tracing``, ``logs``, ``metrics``): this package
imports nothing, so the event store's hot modules pay only for the API they use."""
