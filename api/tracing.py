"""One SERVER span per HTTP request or WebSocket, continuing the caller's `traceparent`:
the root of the trace that the command, the event store, the workers, the projectors and the
push join (docs/observability.md). With tracing off it costs one check per request."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import ids_of

_W3C = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("cairn.api")


def _headers(scope: Scope) -> dict[str, str]:
    wanted = (b"traceparent", b"tracestate")
    return {k.decode(): v.decode("latin-1") for k, v in scope.get("headers", []) if k in wanted}


class TraceMiddleware:
    """Pure ASGI, inside RequestIdMiddleware (whose ids it records)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._on: bool | None = None  # asked once: the process configures telemetry first

    def _tracing(self) -> bool:
        if self._on is None:
            self._on = not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
        return self._on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._tracing():
            await self.app(scope, receive, send)
            return
        method = scope.get("method") or "GET"
        request_id, correlation_id = ids_of(scope)
        attributes = {
            "http.request.method": method,
            "url.path": scope.get("path", ""),
            "url.scheme": scope.get("scheme", "http"),
            "cairn.request_id": request_id,
            "cairn.correlation_id": correlation_id,
        }
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with _tracer.start_as_current_span(
            method,
            context=_W3C.extract(_headers(scope)),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                template = getattr(scope.get("route"), "path", None)
                if isinstance(template, str):
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                if status:
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
