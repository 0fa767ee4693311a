"""The OpenAPI document is a contract: committed, complete, and changed only on purpose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import create_app
from api.contract import document_errors, render, sends_commands
from api.idempotency import IDEMPOTENCY_KEY
from api.routes import runs

pytestmark = pytest.mark.unit

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
ERRORS = {"400", "401", "403", "404", "409", "422", "429", "500", "503"}


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    # Without entering the lifespan: the document needs no servers.
    document: dict[str, Any] = TestClient(create_app()).get("/openapi.json").json()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_the_served_document_is_the_committed_one(served: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert served == committed, (
        "the API contract changed: if on purpose, run `make openapi` and commit "
        "docs/openapi.json (docs/api.md)"
    )


def test_the_committed_file_is_as_make_openapi_writes_it() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(create_app(with_services=False))


def test_every_operation_has_a_unique_id_and_a_tag(served: dict[str, Any]) -> None:
    operations = _operations(served)
    ids = [operation.get("operationId") for _, _, operation in operations]
    assert all(ids) and len(set(ids)) == len(ids), ids
    untagged = [f"{m} {p}" for m, p, operation in operations if not operation.get("tags")]
    assert not untagged
    assert len(operations) >= 40


def test_every_documented_error_has_the_error_schema(served: dict[str, Any]) -> None:
    wrong = []
    for method, path, operation in _operations(served):
        for status, response in operation["responses"].items():
            if status not in ERRORS:
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema != {"$ref": "#/components/schemas/ErrorResponse"}:
                wrong.append(f"{method} {path} {status}: {schema}")
    assert not wrong, "\n".join(wrong)


def test_errors_follow_from_what_a_route_needs(served: dict[str, Any]) -> None:
    def documented(method: str, path: str) -> set[str]:
        return set(served["paths"][path][method]["responses"]) & ERRORS

    # Needs a caller, a path id, changes state: everything.
    assert documented("post", "/v1/runs/{run_id}/cancel") == ERRORS
    # A query without a path id or a position to wait for: no 404 or 409.
    assert documented("get", "/v1/me") == ERRORS - {"404", "409"}
    # Anonymous but limited by address: no 401/403/404.
    assert documented("post", "/v1/auth/login/begin") == ERRORS - {"401", "403", "404"}
    # Needs nothing: only what the framework itself answers.
    assert documented("get", "/healthz") == {"422", "500"}


def test_retry_after_is_documented_where_a_client_must_wait(served: dict[str, Any]) -> None:
    missing = [
        f"{method} {path} {status}"
        for method, path, operation in _operations(served)
        for status in ("429", "503")
        # A readiness probe's 503 says what is down; the prober decides when to ask again.
        if path != "/readyz"
        and status in operation["responses"]
        and "Retry-After" not in operation["responses"][status].get("headers", {})
    ]
    assert not missing, missing


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # a router included in the app
            found.extend(_api_routes(route.original_router.routes))
    return found


def test_every_command_route_documents_the_key_once_after_its_own_parameters() -> None:
    document_errors(runs.router)  # a second time, as when a process makes a second app
    app = create_app(with_services=False)
    document = TestClient(app).get("/openapi.json").json()
    commands = {
        (method.lower(), route.path)
        for route in _api_routes(app.routes)
        if route.include_in_schema and sends_commands(route)
        for method in route.methods or ()
    }
    documented = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", [])]
            if IDEMPOTENCY_KEY in names:
                documented.add((method, path))
                assert names.count(IDEMPOTENCY_KEY) == 1, (method, path, names)
                assert names[-1] == IDEMPOTENCY_KEY, (method, path, names)
    assert ("post", "/v1/intents") in commands
    assert ("post", "/v1/auth/refresh") in commands  # an anonymous sender's route
    assert documented == commands
