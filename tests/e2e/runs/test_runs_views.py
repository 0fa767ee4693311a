"""GET /v1/runs and the approvals inbox are projections, read with read-your-writes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from clients.projector_cli import projection_settings
from commands.settings import CairnSettings
from projections import registry
from projections.host import ProjectorHost
from tests.e2e.runs.test_intent_lifecycle import (
    SARAH,
    payment,
    submit,
    wait_status,
    with_model_answering,
)
from tests.support.cairn_client import Cairn

pytestmark = pytest.mark.e2e


@pytest.fixture
def projected(cairn: Cairn, cairn_settings: CairnSettings) -> Iterator[Cairn]:
    with ProjectorHost(projection_settings(cairn_settings), list(registry.PROJECTORS.values())):
        yield cairn


def test_runs_list_sees_a_new_run_at_once_with_after(projected: Cairn) -> None:
    cairn = projected
    ada = cairn.sign_up("runsview")
    eve = cairn.sign_up("runsother", email="eve@example.com", name="Eve")
    with_model_answering(cairn, ada, SARAH)
    accepted = submit(cairn, ada, "Schedule a meeting with Sarah")
    page = cairn.client.get("/v1/runs", headers=ada.headers, params={"after": accepted["position"]})
    assert page.status_code == 200, page.text
    assert [item["run_id"] for item in page.json()["items"]] == [accepted["run_id"]]
    theirs = cairn.client.get(
        "/v1/runs", headers=eve.headers, params={"after": accepted["position"]}
    )
    assert theirs.status_code == 200 and theirs.json()["items"] == []


def test_escalated_run_is_in_the_inbox_until_decided(projected: Cairn) -> None:
    cairn = projected
    ada = cairn.sign_up("inbox")
    with_model_answering(cairn, ada, payment("20.00"))
    run_id = submit(cairn, ada, "Pay Bob 20 euros")["run_id"]
    wait_status(cairn, ada, run_id, "escalated")
    inbox = []
    for _ in range(50):
        inbox = cairn.client.get("/v1/approvals", headers=ada.headers).json()["items"]
        if inbox:
            break
        time.sleep(0.1)
    assert [item["run_id"] for item in inbox] == [run_id]
    assert inbox[0]["outcome"] == "ESCALATE"
    denied = cairn.client.post(f"/v1/approvals/{run_id}/deny", headers=ada.headers, json={})
    after = cairn.client.get(
        "/v1/approvals", headers=ada.headers, params={"after": denied.json()["position"]}
    )
    assert after.json()["items"] == []
    runs = cairn.client.get(
        "/v1/runs", headers=ada.headers, params={"after": denied.json()["position"]}
    ).json()["items"]
    assert runs[0]["status"] == "denied"
