"""`python -m tests.benchmarks.auth_server`: the API (configured by CAIRN_* variables, port
CAIRN_API_PORT) plus one bare authenticated route, `GET /bench/whoami`, that does nothing but
authenticate: the floor under every authenticated query. Rate limits are lifted so that a
benchmark measures their cost (one Redis call) without being refused."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from adapters.lifetime import freeze_start_up
from adapters.ratelimit import RedisRateLimiter, RouteLimit
from api.app import create_app
from api.auth import CurrentCaller
from api.settings import ServiceUrls
from commands.bootstrap import Services
from commands.settings import CairnSettings

LIFTED = {kind: RouteLimit(10_000_000, 60) for kind in ("auth", "command", "query")}


def bench_app(settings: CairnSettings) -> FastAPI:
    app = create_app(ServiceUrls.of(settings), settings=settings)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            services: Services = app.state.services
            services.rate_limiter = RedisRateLimiter(
                services.redis, prefix=f"{settings.redis_prefix}:rate", limits=LIFTED
            )
            yield state

    app.router.lifespan_context = lifespan

    @app.get("/bench/whoami", include_in_schema=False)
    def whoami(caller: CurrentCaller) -> dict[str, str]:
        return {"user_id": caller.user_id}

    return app


if __name__ == "__main__":
    settings = CairnSettings.from_env()
    port = int(os.environ["CAIRN_API_PORT"])
    app = bench_app(settings)
    freeze_start_up()  # as `cairn up` does for its API
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
