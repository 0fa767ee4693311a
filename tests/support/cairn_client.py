"""Test-side helpers for driving Cairn's API: people with software authenticators."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from adapters.postgres.migrations import migrate
from commands.bootstrap import Services
from commands.runs.worker import RunWorker
from commands.settings import CairnSettings
from commands.worker_service import WorkerService
from infra.stack import StackEndpoints
from tests.support.authenticator import EXAMPLE_ORIGIN, EXAMPLE_RP_ID, SoftwareAuthenticator


@dataclass
class Person:
    authenticator: SoftwareAuthenticator
    session: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session['access_token']}"}


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

    def sign_up(
        self, slug: str, email: str = "ada@example.com", name: str = "Ada Lovelace"
    ) -> Person:
        authenticator = SoftwareAuthenticator(EXAMPLE_ORIGIN)
        body = {
            "tenant_slug": slug,
            "tenant_name": slug.title(),
            "display_name": name,
            "email": email,
        }
        begun = self.client.post("/v1/signup/begin", json=body)
        assert begun.status_code == 200, begun.text
        credential = authenticator.create(begun.json()["options"])
        done = self.client.post(
            "/v1/signup/finish",
            json={
                **body,
                "ceremony_id": begun.json()["ceremony_id"],
                "credential": credential,
                "device_name": "phone",
            },
        )
        assert done.status_code == 201, done.text
        return Person(authenticator, done.json())

    def accept(self, token: str, name: str) -> Person:
        authenticator = SoftwareAuthenticator(EXAMPLE_ORIGIN)
        body = {"invitation_token": token, "display_name": name}
        begun = self.client.post("/v1/invitations/accept/begin", json=body)
        assert begun.status_code == 200, begun.text
        credential = authenticator.create(begun.json()["options"])
        done = self.client.post(
            "/v1/invitations/accept/finish",
            json={**body, "ceremony_id": begun.json()["ceremony_id"], "credential": credential},
        )
        assert done.status_code == 201, done.text
        return Person(authenticator, done.json())

    def begin_login(self) -> dict[str, Any]:
        begun = self.client.post("/v1/auth/login/begin")
        assert begun.status_code == 200, begun.text
        result: dict[str, Any] = begun.json()
        return result

    def log_in(self, authenticator: SoftwareAuthenticator, **knobs: Any) -> Person:
        begun = self.begin_login()
        assertion = authenticator.get(begun["options"], **knobs)
        done = self.client.post(
            "/v1/auth/login/finish",
            json={
                "ceremony_id": begun["ceremony_id"],
                "credential": assertion,
                "device_name": "laptop",
            },
        )
        assert done.status_code == 200, done.text
        return Person(authenticator, done.json())

    def step_up(self, person: Person) -> None:
        begun = self.client.post("/v1/auth/step-up/begin", headers=person.headers)
        assert begun.status_code == 200, begun.text
        assertion = person.authenticator.get(begun.json()["options"])
        done = self.client.post(
            "/v1/auth/step-up/finish",
            headers=person.headers,
            json={"ceremony_id": begun.json()["ceremony_id"], "credential": assertion},
        )
        assert done.status_code == 200, done.text
        person.session["access_token"] = done.json()["access_token"]


def isolated_settings(
    stack: StackEndpoints, database_url: str, name: str, data_dir: Path, **overrides: Any
) -> CairnSettings:
    """Settings for one Cairn on the shared stack with a stream, Redis prefix and (migrated)
    database of its own, and the test relying party of the software authenticator."""
    migrate(database_url)
    settings = CairnSettings(
        nats_url=stack.nats_url,
        database_url=database_url,
        redis_url=stack.redis_url,
        nats_monitor_url=stack.nats_monitor_url,
        data_dir=data_dir,
        stream=name,
        subject_prefix=name,
        rp_id=EXAMPLE_RP_ID,
        origins=(EXAMPLE_ORIGIN,),
        redis_prefix=name,
        # A killed worker's run events come back to another worker after this long.
        worker_ack_wait_s=3.0,
        worker_concurrency=8,
    )
    return dataclasses.replace(settings, **overrides)
