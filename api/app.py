"""The FastAPI application; its lifespan enters the process's composition root
(commands/api_process.py) and hands the routes what it built, on `app.state`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from api.console import mount_console
from api.errors import install_error_handlers
from api.mcp.mount import mount_mcp, running_mcp
from api.middleware import RequestIdMiddleware
from api.routers import APP_RESPONSES, build_every_route, routes_after_mcp, routes_before_mcp
from api.settings import ServiceUrls
from api.tracing import TraceMiddleware
from commands.api_process import api_process, readiness
from commands.settings import CairnSettings
from projections.engine.store_head import StoreHead

NATIVE_TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}

DESCRIPTION = """\
Cairn: a person states an intent, a language model proposes a plan, a deterministic policy
decides, an executor acts. Commands answer 202 with ids and the store position; queries may
wait for a position (read-your-writes). Every error has the shape
`{"error": {"code", "message", "details"}}`; every response carries `X-Request-ID` and
`X-Correlation-ID`.
"""


def create_app(
    urls: ServiceUrls | None = None,
    *,
    settings: CairnSettings | None = None,
    with_services: bool = True,
) -> FastAPI:
    """Build the app. Without `settings` they are read from the environment once, at startup
    (the URLs too, unless given); `with_services=False` gives only health and error handling
    (for tests of those)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        build_every_route(app)
        required = urls is None or with_services
        config = settings or CairnSettings.from_env(servers_required=required)
        resolved = urls or ServiceUrls.of(config)
        app.state.urls = resolved
        app.state.readiness = readiness(
            resolved.nats_url, resolved.database_url, resolved.redis_url
        )
        app.state.services = None
        app.state.push = None
        app.state.audit_log = None
        app.state.store_head = None
        if not with_services:
            yield
            return
        async with api_process(config) as running, running_mcp(app, running.services):
            app.state.services = running.services
            app.state.push = running.push
            app.state.audit_log = running.audit_log
            push = running.push
            app.state.store_head = StoreHead(
                running.services.last_position, seen=lambda: push.position
            )
            try:
                yield
            finally:
                app.state.push = None  # a subscription asked for now gets 503, not a closed feed

    app = FastAPI(
        # FastAPI's own telemetry is off: api/tracing.py makes the request span (decision 0029).
        telemetry=NATIVE_TELEMETRY_OFF,
        title="Cairn",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=APP_RESPONSES,
    )
    install_error_handlers(app)
    app.add_middleware(TraceMiddleware)  # inside the ids middleware: it records them
    app.add_middleware(RequestIdMiddleware)
    # The same inclusions for every app of the process (api/routers.py, decision 0075).
    app.router.routes.extend(routes_before_mcp())
    mount_mcp(app)
    app.router.routes.extend(routes_after_mcp())
    mount_console(app)
    return app
