"""The API's routers, documented and included once per process, for every app made in it.

FastAPI includes a router lazily: what a route needs to answer (its parameters' and answers'
pydantic fields, its dependencies) is built from the inclusion the first time a request is
matched against it, and kept with that inclusion. An app that included the routers itself
built all of it again: ~0.3 s of CPU on the first request of every app (decision 0075), paid
by each test that makes one. Included here once into one router, with the app's own
defaults, every app takes the same inclusions, and each route is built once per process.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute
from starlette.types import Scope

from api.contract import document_errors
from api.mcp import upstream_routes
from api.models import ErrorResponse
from api.routes import (
    account,
    audit,
    audit_log,
    connections,
    context,
    device,
    directory,
    health,
    identity,
    oauth,
    policies,
    provider_keys,
    recovery,
    runs,
    stream,
    webhooks,
)

# Documented for every route of the app (its own `responses`, and the inclusions' default).
APP_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "Invalid request"},
    500: {"model": ErrorResponse, "description": "Unexpected server error"},
}

# The runs' routers first: FastAPI tries a request on every route of each router included
# before the one that has it. No path is in two routers (tests/unit/api/test_routing.py), so
# the order changes which route answers nothing, only what an intent costs (0048).
_BEFORE_MCP = (
    runs.router,
    stream.router,
    health.router,
    identity.router,
    device.router,
    account.router,
    recovery.router,
    policies.router,
    audit.router,
    audit_log.router,
    directory.router,
    provider_keys.router,
    connections.router,
    oauth.router,
    upstream_routes.router,
)
_AFTER_MCP = (webhooks.router, context.router)


@cache
def _included() -> tuple[tuple[BaseRoute, ...], tuple[BaseRoute, ...]]:
    assembly = APIRouter(responses=APP_RESPONSES)
    for router in (*_BEFORE_MCP, *_AFTER_MCP):
        assembly.include_router(document_errors(router))
    before = tuple(assembly.routes[: len(_BEFORE_MCP)])
    return before, tuple(assembly.routes[len(_BEFORE_MCP) :])


def routes_before_mcp() -> tuple[BaseRoute, ...]:
    """The inclusions an app lists before the MCP endpoint, in this order."""
    return _included()[0]


def routes_after_mcp() -> tuple[BaseRoute, ...]:
    """The inclusions an app lists after the MCP endpoint, in this order."""
    return _included()[1]


# A path no route has: every route is tried, none answers.
_MATCHING_NOTHING: Scope = {
    "type": "http",
    "method": "GET",
    "path": "/.well-known/cairn-builds-its-routes",
    "root_path": "",
    "query_string": b"",
    "headers": [],
}


def build_every_route(app: FastAPI) -> None:
    """Have FastAPI build what every route needs now (decision 0076), by matching a request
    that no route answers against each of them, as a request would: at start-up, before the
    API reports ready, rather than on the first person's request (~0.4 s of CPU with the
    event loop held, once per process)."""
    for route in app.router.routes:
        route.matches(dict(_MATCHING_NOTHING))
