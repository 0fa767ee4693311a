"""A change of what runs without the person reaches their other devices as it happens."""

from __future__ import annotations

import json

import pytest

from tests.e2e.push.harness import LiveCairn, Member, sse_frames

pytestmark = pytest.mark.e2e

PERMIT_ALL = '@id("everything") permit (principal, action, resource);\n'


def _second_device(live: LiveCairn, person: Member) -> Member:
    begun = live.http.post("/v1/auth/login/begin").json()
    done = live.http.post(
        "/v1/auth/login/finish",
        json={
            "ceremony_id": begun["ceremony_id"],
            "credential": person.authenticator.get(begun["options"]),
            "device_name": "glasses",
        },
    )
    assert done.status_code == 200, done.text
    return Member(person.authenticator, done.json())


def test_an_attempt_and_a_change_are_pushed_to_the_persons_other_device(live: LiveCairn) -> None:
    ada = live.sign_up("pushpolicy")
    glasses = _second_device(live, ada)
    assert glasses.session["device_id"] != ada.session["device_id"]
    start = str(live.recorder.max_notification_id() or 0)
    refused = live.http.put("/v1/policies", headers=ada.headers, json={"text": PERMIT_ALL})
    assert refused.status_code == 403, refused.text
    details = refused.json()["error"]["details"]
    approval = {
        "ceremony_id": details["ceremony_id"],
        "credential": ada.authenticator.get(details["options"]),
    }
    changed = live.http.put(
        "/v1/policies", headers=ada.headers, json={"text": PERMIT_ALL, "approval": approval}
    )
    assert changed.status_code == 202, changed.text
    seen: list[tuple[str, str, str | None]] = []
    with live.http.stream(
        "GET",
        "/v1/stream",
        params={"access_token": glasses.token},
        headers={"Last-Event-ID": start},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        for frame in sse_frames(response.iter_lines()):
            if frame.event != "SecurityEvent.SecurityEventRecorded":
                continue
            state = json.loads(frame.data)["state"]
            seen.append((state["kind"], state["outcome"], json.loads(frame.data)["device"]))
            if state["kind"] == "policies_changed":
                break
    device = ada.session["device_id"]
    assert seen == [
        ("policies_change", "approval_required", device),
        ("policies_changed", "succeeded", device),
    ]
