"""GET /v1/runs and the approvals inbox are projections, read with read-your-writes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from projections.engine.store_head import LastPosition, StoreHead
from tests.e2e.runs.test_intent_lifecycle import (
    SARAH,
    payment,
    submit,
    wait_status,
    with_model_answering,
)
from tests.support.in_process import Cairn, Person
from tests.support.runs import replayed_run

pytestmark = pytest.mark.e2e


@pytest.fixture
def projected(cairn: Cairn) -> Cairn:
    return cairn  # the e2e Cairn runs its projectors (tests/e2e/conftest.py)


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


def _without_position(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "position"}


def _read(cairn: Cairn, person: Person, run_id: str, after: int) -> dict[str, Any]:
    response = cairn.client.get(
        f"/v1/runs/{run_id}", headers=person.headers, params={"after": after}
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    assert found["position"] >= after
    return found


def test_a_run_read_from_the_view_is_what_the_store_says(projected: Cairn) -> None:
    cairn = projected
    ada = cairn.sign_up("viewdetail")
    with_model_answering(cairn, ada, payment("20.00"))
    accepted = submit(cairn, ada, "Pay Bob 20 euros")
    run_id = accepted["run_id"]
    # At once with `after`: the view has the run the command answered with.
    first = _read(cairn, ada, run_id, accepted["position"])
    assert first["timeline"][0]["type"] == "IntentSubmitted"
    escalated = wait_status(cairn, ada, run_id, "escalated")
    assert escalated["escalation_expires_at"] is not None
    begun = cairn.client.post(f"/v1/approvals/{run_id}/approve/begin", headers=ada.headers)
    approved = cairn.client.post(
        f"/v1/approvals/{run_id}/approve",
        headers=ada.headers,
        json={
            "ceremony_id": begun.json()["ceremony_id"],
            "credential": ada.authenticator.get(begun.json()["options"]),
        },
    )
    assert approved.status_code == 202, approved.text
    done = wait_status(cairn, ada, run_id, "completed", "failed")
    store = cairn.services.runs.app.recorder.max_notification_id() or 0
    view = _read(cairn, ada, run_id, store)
    assert view["status"] == "completed"
    assert {k: v for k, v in view.items() if k != "position"} == replayed_run(
        cairn.services.runs.app, uuid.UUID(run_id)
    )
    assert [entry["type"] for entry in done["timeline"]][-3:] == [
        "StepStarted",
        "StepSucceeded",
        "RunCompleted",
    ]


def test_a_failed_run_in_the_view_is_what_the_store_says(projected: Cairn) -> None:
    cairn = projected
    ada = cairn.sign_up("viewfailed")
    step = {"step_id": "s1", "action": "shell.exec", "provider": "x", "parameters": {}}
    with_model_answering(cairn, ada, {"summary": "x", "steps": [step]})
    run_id = submit(cairn, ada, "run rm -rf /")["run_id"]
    wait_status(cairn, ada, run_id, "failed")
    view = _read(cairn, ada, run_id, cairn.services.runs.app.recorder.max_notification_id() or 0)
    assert {k: v for k, v in view.items() if k != "position"} == replayed_run(
        cairn.services.runs.app, uuid.UUID(run_id)
    )


def test_another_persons_run_is_not_found_even_once_projected(projected: Cairn) -> None:
    cairn = projected
    ada = cairn.sign_up("viewowner")
    eve = cairn.sign_up("viewstranger", email="eve@example.com", name="Eve")
    invite = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "bob@example.com"}
    )
    assert invite.status_code == 201, invite.text
    bob = cairn.accept(invite.json()["invitation_token"], "Bob")
    with_model_answering(cairn, ada, SARAH)
    accepted = submit(cairn, ada, "Schedule a meeting with Sarah")
    after = {"after": accepted["position"]}
    path = f"/v1/runs/{accepted['run_id']}"
    assert cairn.client.get(path, headers=ada.headers, params=after).status_code == 200
    for stranger in (eve, bob):  # another tenant; the same tenant, another person
        response = cairn.client.get(path, headers=stranger.headers, params=after)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    malformed = cairn.client.get("/v1/runs/not-a-run", headers=ada.headers)
    assert malformed.status_code == 404


def test_waiting_for_a_position_beyond_the_store_is_refused_at_once(projected: Cairn) -> None:
    cairn = projected
    ada = cairn.sign_up("viewbehind")
    with_model_answering(cairn, ada, SARAH)
    accepted = submit(cairn, ada, "Schedule a meeting with Sarah")
    beyond = accepted["position"] + 1_000_000
    response = cairn.client.get(
        f"/v1/runs/{accepted['run_id']}", headers=ada.headers, params={"after": beyond}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "position_beyond_store"
    assert error["details"]["position"] == beyond


def test_reading_a_run_after_a_pushed_position_asks_nothing_of_the_store(
    projected: Cairn,
) -> None:
    cairn = projected
    ada = cairn.sign_up("pushedafter")
    with_model_answering(cairn, ada, SARAH)
    accepted = submit(cairn, ada, "Schedule a meeting with Sarah")
    wait_status(cairn, ada, accepted["run_id"], "completed")
    app = cairn.client.app
    assert isinstance(app, FastAPI)
    push, head = app.state.push, app.state.store_head
    assert isinstance(head, StoreHead)
    last = cairn.services.runs.app.recorder.max_notification_id() or 0
    deadline = time.monotonic() + 10
    while push.position < last and time.monotonic() < deadline:
        time.sleep(0.02)  # the feed fans out the run's last events
    pushed = push.position
    assert pushed > accepted["position"]  # the worker's events: no command of this process
    head._known = 0  # what the test's own reads learnt from the store is forgotten
    asked: list[int] = []
    ask: LastPosition = head._last_position

    def counted() -> int | None:
        asked.append(1)
        return ask()

    head._last_position = counted
    path = f"/v1/runs/{accepted['run_id']}"
    read = cairn.client.get(path, headers=ada.headers, params={"after": pushed})
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "completed"
    assert asked == []  # the position of a pushed event: known to be stored
    beyond = cairn.client.get(path, headers=ada.headers, params={"after": pushed + 1_000})
    assert beyond.status_code == 400 and asked == [1], beyond.text
