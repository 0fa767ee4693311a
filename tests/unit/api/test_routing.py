"""No path belongs to two routers, so the order the app includes them in (the runs' first,
for speed: decision 0048) changes which route answers no request."""

from __future__ import annotations

import re
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from api import routers
from api.app import create_app
from api.routers import routes_after_mcp, routes_before_mcp
from tests.unit.api.test_console_files import URLS

pytestmark = pytest.mark.unit


def _routes_by_router() -> list[tuple[int, re.Pattern[str], str]]:
    """(router number, the regex a request is matched with, the path) of every API route."""
    app = create_app(with_services=False)
    found = []
    for number, included in enumerate(app.routes):
        contexts = getattr(included, "effective_route_contexts", None)
        if contexts is None:
            continue
        for context in contexts():
            if isinstance(context.original_route, APIRoute):
                found.append((number, context.path_regex, context.path_format))
    return found


def test_no_path_of_one_router_is_matched_by_a_route_of_another() -> None:
    routes = _routes_by_router()
    assert len({number for number, _, _ in routes}) > 10  # the check sees the app's routers
    for number, _, path in routes:
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        others = [
            other_path
            for other_number, regex, other_path in routes
            if other_number != number and regex.fullmatch(concrete)
        ]
        assert others == [], f"{path} is also matched by {others}: the include order matters"


def test_a_route_with_a_path_parameter_is_seen_matching() -> None:
    routes = _routes_by_router()
    run = next(regex for _, regex, path in routes if path == "/v1/runs/{run_id}")
    assert run.fullmatch("/v1/runs/x1") and not run.fullmatch("/v1/runs")


def _inclusions(app: FastAPI) -> list[BaseRoute]:
    return [route for route in app.routes if hasattr(route, "effective_route_contexts")]


def test_every_app_of_a_process_takes_the_same_inclusions() -> None:
    """FastAPI builds what a route needs once per inclusion, on its first request: apps that
    share the inclusions build each route once per process (decision 0075)."""
    first, second = create_app(with_services=False), create_app(with_services=False)
    assert len(_inclusions(first)) == len(routes_before_mcp()) + len(routes_after_mcp()) > 10
    assert all(a is b for a, b in zip(_inclusions(first), _inclusions(second), strict=True))


def test_an_app_builds_every_route_before_its_first_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FastAPI's lazy build of a route happens at start-up, not on a person's first request
    (decision 0076). New inclusions, so that what earlier apps of this process built does
    not count."""
    built: list[str] = []
    build = fastapi.routing._populate_api_route_state

    def counted(route: Any, path: str, *args: Any, **kwargs: Any) -> None:
        built.append(path)
        build(route, path, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "_populate_api_route_state", counted)
    routers._included.cache_clear()
    try:
        with TestClient(create_app(URLS, with_services=False)) as client:
            at_start = len(built)
            assert client.get("/v1/context/memories").status_code == 503  # no services here
            assert client.get("/v1/runs").status_code == 503
    finally:
        routers._included.cache_clear()
    assert "/v1/context/memories" in built[:at_start] and "/v1/runs" in built[:at_start]
    assert len(built) == at_start
