"""The FastAPI application and its composition root (the lifespan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from adapters.health import nats_probe, postgres_probe, redis_probe
from api.errors import ErrorResponse, install_error_handlers
from api.middleware import RequestIdMiddleware
from api.routes import (
    account,
    audit,
    directory,
    health,
    identity,
    policies,
    provider_keys,
    runs,
    stream,
)
from api.settings import ServiceUrls
from commands.bootstrap import Services, bootstrap
from commands.settings import CairnSettings

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
    """Build the app. Without `urls`/`settings` they are read from the environment at startup;
    `with_services=False` gives only health and error handling (for tests of those)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = urls or ServiceUrls.from_env()
        app.state.urls = resolved
        app.state.probes = {
            "nats": nats_probe(resolved.nats_url),
            "postgres": postgres_probe(resolved.database_url),
            "redis": redis_probe(resolved.redis_url),
        }
        services: Services | None = None
        if with_services:
            config = settings or CairnSettings.from_env()
            services = await run_in_threadpool(bootstrap, config)
            push = await stream.start_push(app.state, config)
            # Other processes' changes to users and sessions reach this one's auth cache
            # through the push feed, which sees every event (decision 0010).
            push.hub.watchers.append(services.principals.forget_event)
        app.state.services = services
        try:
            yield
        finally:
            if services is not None:
                await stream.stop_push(app.state)
                await run_in_threadpool(services.close)

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
    app.include_router(identity.router)
    app.include_router(account.router)
    app.include_router(policies.router)
    app.include_router(runs.router)
    app.include_router(stream.router)
    app.include_router(audit.router)
    app.include_router(directory.router)
    app.include_router(provider_keys.router)
    return app
