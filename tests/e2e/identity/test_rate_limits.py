"""Auth routes and signed-in commands are rate limited (429 + Retry-After); auth fails closed
without Redis."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.ratelimit import DEFAULT_LIMITS, RedisRateLimiter, RouteLimit
from api.app import create_app
from api.auth import CurrentCaller
from api.dispatch import Send
from api.settings import ServiceUrls
from commands.runs.intents import SubmitIntent
from commands.settings import CairnSettings
from infra.stack.ports import free_port
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def test_login_routes_answer_429_with_retry_after(cairn: Cairn) -> None:
    statuses = [cairn.client.post("/v1/auth/login/begin").status_code for _ in range(25)]
    assert statuses[:20] == [200] * 20
    limited = cairn.client.post("/v1/auth/login/begin")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"


def test_auth_fails_closed_when_redis_is_down(cairn_settings: CairnSettings) -> None:
    settings = dataclasses.replace(cairn_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    urls = ServiceUrls(settings.nats_url, settings.database_url, settings.redis_url)
    with TestClient(create_app(urls, settings=settings)) as client:
        for path in ("/v1/auth/login/begin", "/v1/signup/begin"):
            response = client.post(
                path,
                json={
                    "tenant_slug": "down",
                    "tenant_name": "D",
                    "display_name": "D",
                    "email": "d@example.com",
                },
            )
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "rate_limiter_unavailable"


def test_a_signed_in_command_is_limited_once_on_its_own_thread(
    cairn: Cairn, cairn_settings: CairnSettings
) -> None:
    """Commands enforce the caller's limit in their sender, not in the caller dependency
    (decision 0048): each command still counts once, and the next is refused with 429."""
    services = cairn.services
    person = cairn.sign_up("limited")
    services.rate_limiter = RedisRateLimiter(
        services.redis,
        prefix=f"{cairn_settings.redis_prefix}:rate-test",
        limits={**DEFAULT_LIMITS, "command": RouteLimit(3, 60)},
    )

    def intent() -> Any:
        key = {"Idempotency-Key": uuid.uuid4().hex}
        return cairn.client.post(
            "/v1/intents", headers={**person.headers, **key}, json={"text": "note: milk"}
        )

    assert [intent().status_code for _ in range(3)] == [202] * 3
    refused = intent()
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    # Queries have their own limit, enforced by the caller dependency as before.
    assert cairn.client.get("/v1/runs", headers=person.headers).status_code == 200


def test_a_command_route_that_also_names_the_caller_counts_once(
    cairn: Cairn, cairn_settings: CairnSettings
) -> None:
    services = cairn.services
    person = cairn.sign_up("limitedboth")
    services.rate_limiter = RedisRateLimiter(
        services.redis,
        prefix=f"{cairn_settings.redis_prefix}:rate-both",
        limits={**DEFAULT_LIMITS, "command": RouteLimit(2, 60)},
    )

    def both(caller: CurrentCaller, send: Send) -> Any:
        return send.accepted(SubmitIntent(text=f"note from {caller.user_id}"))

    app: FastAPI = cairn.client.app  # type: ignore[assignment]
    app.add_api_route("/test/both", both, methods=["POST"], status_code=202)

    def post() -> int:
        key = {"Idempotency-Key": uuid.uuid4().hex}
        return cairn.client.post("/test/both", headers={**person.headers, **key}).status_code

    assert [post() for _ in range(3)] == [202, 202, 429]
