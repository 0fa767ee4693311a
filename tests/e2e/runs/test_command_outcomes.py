"""What a command answers when it loses a race or the event store is down: 409 `conflict`, or
503 with Retry-After, never 500."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ServiceUrls
from commands.settings import CairnSettings
from infra.stack.ports import wait_until
from infra.stack.servers import NatsServer
from tests.e2e.runs.test_intent_lifecycle import payment, submit, wait_status, with_model_answering
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e

APPROVERS = 50


def _escalated_run(cairn: Cairn, ada: Person) -> str:
    with_model_answering(cairn, ada, payment("20.00"))
    run_id: str = submit(cairn, ada, "Pay Bob 20 euros")["run_id"]
    run = wait_status(cairn, ada, run_id, "escalated", "denied", "failed")
    assert run["status"] == "escalated", run
    return run_id


def test_of_fifty_concurrent_approvals_of_one_run_exactly_one_is_accepted(
    cairn: Cairn,
) -> None:
    ada = cairn.sign_up("race")
    run_id = _escalated_run(cairn, ada)
    # Each approval is a ceremony of its own, begun (and signed) before any is sent.
    approvals = []
    for _ in range(APPROVERS):
        begun = cairn.client.post(f"/v1/approvals/{run_id}/approve/begin", headers=ada.headers)
        assert begun.status_code == 200, begun.text
        assertion = ada.authenticator.get(begun.json()["options"])
        approvals.append({"ceremony_id": begun.json()["ceremony_id"], "credential": assertion})
    start = threading.Barrier(APPROVERS)

    def approve(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        start.wait()
        answer = cairn.client.post(
            f"/v1/approvals/{run_id}/approve",
            headers={**ada.headers, "Idempotency-Key": uuid.uuid4().hex},
            json=body,
        )
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(APPROVERS) as pool:
        answers = list(pool.map(approve, approvals))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202] + [409] * (APPROVERS - 1), answers
    refused = {body["error"]["code"] for status, body in answers if status == 409}
    assert refused == {"conflict"}
    (accepted,) = (body for status, body in answers if status == 202)
    assert accepted["run_id"] == run_id and accepted["position"] is not None
    run = cairn.client.get(f"/v1/runs/{run_id}", headers=ada.headers).json()
    timeline = [entry["type"] for entry in run["timeline"]]
    assert timeline.count("EscalationApproved") == 1


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own, to stop and start again: the session's is shared."""
    server = NatsServer(tmp_path / "nats", "always")
    server.start()
    assert wait_until(server.healthy, 20)
    yield server
    if server.process is not None:
        server.process.stop()


@pytest.fixture
def cairn_on_private_nats(
    cairn_settings: CairnSettings, private_nats: NatsServer
) -> Iterator[Cairn]:
    s = dataclasses.replace(
        cairn_settings, nats_url=private_nats.url, nats_monitor_url=private_nats.monitor_url
    )
    urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
    with TestClient(create_app(urls, settings=s), raise_server_exceptions=False) as client:
        yield Cairn(client)


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, (response.request.url, response.text)
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "unavailable"


def test_with_nats_stopped_commands_answer_503_with_retry_after_and_a_retry_succeeds_later(
    cairn_on_private_nats: Cairn, private_nats: NatsServer
) -> None:
    cairn = cairn_on_private_nats
    ada = cairn.sign_up("outage")
    run_id = submit(cairn, ada, "Pay Bob 20 euros")["run_id"]
    laptop = cairn.log_in(ada.authenticator)
    # A sign-up begun while NATS was up, finished while it is down.
    newcomer = {
        "tenant_slug": "newcomer",
        "tenant_name": "Newcomer",
        "display_name": "Grace",
        "email": "grace@example.com",
    }
    begun = cairn.client.post("/v1/signup/begin", json=newcomer)
    assert begun.status_code == 200, begun.text
    credential = SoftwareAuthenticator(EXAMPLE_ORIGIN).create(begun.json()["options"])
    assert private_nats.process is not None
    private_nats.process.stop()

    key = {"Idempotency-Key": "submit-during-outage"}
    commands = [
        ("post", "/v1/intents", {**ada.headers, **key}, {"text": "Pay Bob 5 euros"}),
        (
            "put",
            "/v1/policies",
            ada.headers,
            {"text": '@id("no")\nforbid(principal, action, resource);'},
        ),
        ("post", f"/v1/runs/{run_id}/cancel", ada.headers, None),
        ("post", f"/v1/approvals/{run_id}/deny", ada.headers, {}),
        # Ends the laptop's session (PostgreSQL is up), then cannot record that it did.
        ("post", "/v1/auth/logout", laptop.headers, None),
        (
            "post",
            "/v1/signup/finish",
            {},
            {**newcomer, "ceremony_id": begun.json()["ceremony_id"], "credential": credential},
        ),
    ]
    for method, path, headers, body in commands:
        _assert_unavailable(cairn.client.request(method, path, headers=headers, json=body))

    # Back up: the same command, retried with its key, is applied (once).
    private_nats.start()
    assert wait_until(private_nats.healthy, 20)
    deadline = time.monotonic() + 30
    while True:
        retried = cairn.client.post(
            "/v1/intents", headers={**ada.headers, **key}, json={"text": "Pay Bob 5 euros"}
        )
        if retried.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert retried.status_code == 202, retried.text
    again = cairn.client.post(
        "/v1/intents", headers={**ada.headers, **key}, json={"text": "Pay Bob 5 euros"}
    )
    assert again.json() == retried.json()
