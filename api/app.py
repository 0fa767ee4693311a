"""The FastAPI application and its composition root (the lifespan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from adapters.health import nats_probe, postgres_probe, redis_probe
from api.errors import ErrorResponse, install_error_handlers
from api.middleware import RequestIdMiddleware
from api.routes import health
from api.settings import ServiceUrls

DESCRIPTION = """\
Cairn: a person states an intent, a language model proposes a plan, a deterministic policy
decides, an executor acts. Commands answer 202 with ids and the store position; queries may
wait for a position (read-your-writes). Every error has the shape
`{"error": {"code", "message", "details"}}`; every response carries `X-Request-ID` and
`X-Correlation-ID`.
"""


def create_app(urls: ServiceUrls | None = None) -> FastAPI:
    """Build the app; without `urls` they are read from the environment at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = urls or ServiceUrls.from_env()
        app.state.urls = resolved
        app.state.probes = {
            "nats": nats_probe(resolved.nats_url),
            "postgres": postgres_probe(resolved.database_url),
            "redis": redis_probe(resolved.redis_url),
        }
        yield

    app = FastAPI(
        title="Cairn",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={
            422: {"model": ErrorResponse, "description": "Invalid request"},
            500: {"model": ErrorResponse, "description": "Unexpected server error"},
        },
    )
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    return app
