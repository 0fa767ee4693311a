"""A Cairn API in the test process (Starlette's TestClient), and people who use it through
the Python SDK with software authenticators standing in for their phones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from adapters.ratelimit import DEFAULT_LIMITS, RedisRateLimiter, RouteLimit
from clients.sdk import Cairn as SdkClient
from commands.bootstrap import Services
from commands.runs.worker import RunWorker
from commands.worker_service import WorkerService
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator


@dataclass
class Person:
    authenticator: SoftwareAuthenticator
    session: dict[str, Any]
    sdk: SdkClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session['access_token']}"}


class _Knobbed:
    """The authenticator with test knobs for its assertions (e.g. user verification off)."""

    def __init__(self, authenticator: SoftwareAuthenticator, knobs: Mapping[str, Any]) -> None:
        self.authenticator, self.knobs = authenticator, knobs

    def create(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return self.authenticator.create(options)

    def get(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return self.authenticator.get(options, **self.knobs)


class ThroughTestClient(httpx.BaseTransport):
    """Hands the SDK's requests to the in-process app through Starlette's TestClient (which
    is built on another HTTP library, httpx2, so it cannot be the SDK's client itself)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
        answer = self.client.request(
            request.method,
            request.url.raw_path.decode("ascii"),
            headers=headers,
            content=request.read(),
        )
        return httpx.Response(
            answer.status_code, headers=answer.headers.multi_items(), content=answer.content
        )


class Cairn:
    """The API client plus what a test needs to look behind it."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        # The run worker beside the API (tests/support/workers.py), when the fixture runs one.
        self.worker: WorkerService | None = None

    @property
    def runs_worker(self) -> RunWorker:
        assert self.worker is not None, "this Cairn runs no worker"
        return self.worker.runs

    @property
    def services(self) -> Services:
        services: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return services

    def lift_rate_limits(self, prefix: str) -> None:
        """Rate limits far above what a fuzz test sends (a 429 would hide what is behind it),
        counted under their own Redis `prefix`."""
        services = self.services
        services.rate_limiter = RedisRateLimiter(
            services.redis,
            dict.fromkeys(DEFAULT_LIMITS, RouteLimit(limit=1_000_000, window_s=60)),
            prefix=f"{services.settings.redis_prefix}:{prefix}",
        )

    def sdk(self) -> SdkClient:
        """A signed-out SDK client over the in-process API."""
        transport = ThroughTestClient(self.client)
        return SdkClient(http=httpx.Client(base_url=str(self.client.base_url), transport=transport))

    def _person(self, authenticator: SoftwareAuthenticator, client: SdkClient) -> Person:
        credentials = client.credentials
        assert credentials is not None
        session = {
            "tenant_id": credentials.tenant_id,
            "user_id": credentials.user_id,
            "device_id": credentials.device_id,
            "session_id": credentials.session_id,
            "access_token": credentials.access_token,
            "refresh_token": credentials.refresh_token,
            "token_type": "Bearer",
            "position": client.position,
        }
        return Person(authenticator, session, client)

    def sign_up(
        self, slug: str, email: str = "ada@example.com", name: str = "Ada Lovelace"
    ) -> Person:
        authenticator = SoftwareAuthenticator(EXAMPLE_ORIGIN)
        client = self.sdk()
        client.sign_up(
            authenticator,
            tenant_slug=slug,
            tenant_name=slug.title(),
            display_name=name,
            email=email,
            device_name="phone",
        )
        return self._person(authenticator, client)

    def accept(self, token: str, name: str) -> Person:
        authenticator = SoftwareAuthenticator(EXAMPLE_ORIGIN)
        client = self.sdk()
        client.accept_invitation(authenticator, token, name)
        return self._person(authenticator, client)

    def begin_login(self) -> dict[str, Any]:
        begun = self.client.post("/v1/auth/login/begin")
        assert begun.status_code == 200, begun.text
        result: dict[str, Any] = begun.json()
        return result

    def log_in(self, authenticator: SoftwareAuthenticator, **knobs: Any) -> Person:
        client = self.sdk()
        client.log_in(_Knobbed(authenticator, knobs), device_name="laptop")
        return self._person(authenticator, client)

    def step_up(self, person: Person) -> None:
        stepped_up = person.sdk.step_up(person.authenticator)
        person.session["access_token"] = stepped_up.access_token
