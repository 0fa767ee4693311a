"""Every 4xx/5xx has one shape, and every response carries request and correlation ids."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from adapters.jetstream.errors import (
    BatchTooLarge,
    EventStoreOutcomeUnknown,
    EventStoreUnavailable,
)
from api.app import create_app
from commands.ports.connections import ReauthNeeded
from domain import errors
from tests.unit.api.test_console_files import URLS

pytestmark = pytest.mark.unit


class Body(BaseModel):
    name: str
    count: int


def make_app() -> FastAPI:
    app = create_app(URLS, with_services=False)

    @app.get("/raise/{kind}")
    def raise_kind(kind: str) -> None:
        raise {
            "not_found": errors.NotFound("no run r1", {"id": "r1"}),
            "conflict": errors.Conflict("version moved"),
            "transition": errors.InvalidTransition("run already completed"),
            "forbidden": errors.Forbidden("missing capability calendar.write"),
            "boom": RuntimeError("secret internals"),
            "limited": errors.RateLimited("slow down", {"retry_after": 7}),
            "redis_down": errors.Unavailable("the idempotency store is unavailable"),
            "lost_race": IntegrityError("expected sequence did not match"),
            "store_down": EventStoreUnavailable("NATS is unreachable"),
            "outcome_unknown": EventStoreOutcomeUnknown("no answer within 5 s"),
            "too_large": BatchTooLarge("1,001 messages > 1,000 (secret-value)"),
            "reauth": ReauthNeeded(
                "the connection to 'google' needs the person to connect again",
                {"provider": "google"},
            ),
        }[kind]

    @app.post("/echo")
    def echo(body: Body) -> Body:
        return body

    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app(), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("not_found", 404, "not_found"),
        ("conflict", 409, "conflict"),
        ("transition", 409, "invalid_transition"),
        ("forbidden", 403, "forbidden"),
        ("reauth", 409, "reauth_required"),
    ],
)
def test_domain_errors_map_to_status_and_stable_code(
    client: TestClient, kind: str, status: int, code: str
) -> None:
    response = client.get(f"/raise/{kind}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_a_dead_grant_is_a_conflict_that_tells_the_person_to_reconnect(
    client: TestClient,
) -> None:
    # Not 400 (the request was fine) and not 5xx (retrying cannot cure it): the connection's
    # state is in the way, and only the person can change it.
    error = client.get("/raise/reauth").json()["error"]
    assert error["code"] == "reauth_required"
    assert "connect again" in error["message"]
    assert error["details"] == {"provider": "google"}


def test_domain_error_details_are_kept(client: TestClient) -> None:
    assert client.get("/raise/not_found").json()["error"]["details"] == {"id": "r1"}


def test_unexpected_error_is_500_without_internals_but_with_request_id(
    client: TestClient,
) -> None:
    response = client.get("/raise/boom", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    body = response.json()["error"]
    assert body["code"] == "internal_error"
    assert "secret internals" not in response.text
    assert "req-123" in body["message"]
    assert response.headers["x-request-id"] == "req-123"


def test_validation_error_uses_the_error_format_and_hides_input_values(
    client: TestClient,
) -> None:
    response = client.post("/echo", json={"name": "hunter2-secret", "count": "many"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"]["errors"][0]["location"] == ["body", "count"]
    assert "body.count" in error["message"]
    assert "hunter2-secret" not in response.text


def test_malformed_json_is_a_validation_error(client: TestClient) -> None:
    response = client.post(
        "/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"


def test_unknown_route_and_wrong_method_use_the_error_format(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_request_id_is_generated_and_correlation_defaults_to_it(client: TestClient) -> None:
    response = client.get("/healthz")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert response.headers["x-correlation-id"] == request_id
    assert client.get("/healthz").headers["x-request-id"] != request_id


def test_caller_ids_are_echoed_when_safe_and_replaced_when_not(client: TestClient) -> None:
    ok = client.get("/healthz", headers={"X-Request-ID": "abc", "X-Correlation-ID": "corr-1"})
    assert ok.headers["x-request-id"] == "abc"
    assert ok.headers["x-correlation-id"] == "corr-1"
    unsafe = client.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert unsafe.headers["x-request-id"] != "a b\tc" + "x" * 200
    assert len(unsafe.headers["x-request-id"]) == 32


def test_errors_carry_ids_too(client: TestClient) -> None:
    response = client.get("/nope", headers={"X-Correlation-ID": "flow-7"})
    assert response.headers["x-correlation-id"] == "flow-7"
    assert response.headers["x-request-id"]


def test_openapi_is_served_with_stable_operation_ids(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["paths"]["/readyz"]["get"]["operationId"] == "readyz"
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
    assert client.get("/docs").status_code == 200


def test_rate_limited_is_429_with_retry_after(client: TestClient) -> None:
    response = client.get("/raise/limited")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize("kind", ["redis_down", "store_down", "outcome_unknown"])
def test_anything_unavailable_is_503_with_retry_after(client: TestClient, kind: str) -> None:
    response = client.get(f"/raise/{kind}")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "unavailable"


def test_a_lost_race_outside_the_dispatch_is_still_409_conflict(client: TestClient) -> None:
    response = client.get("/raise/lost_race")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_data_the_store_refuses_is_a_422_that_does_not_echo_it(client: TestClient) -> None:
    response = client.get("/raise/too_large")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unstorable"
    assert error["details"] == {"reason": "BatchTooLarge"}
    assert "secret-value" not in response.text
