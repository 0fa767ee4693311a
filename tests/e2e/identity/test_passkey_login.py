"""Passkey sign-up and login over HTTP, and every refusal a relying party must make."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest

from domain.identity.user import User
from tests.support.authenticator import SoftwareAuthenticator, SoftwareCredential
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e


def _user(cairn: Cairn, person: Person) -> User:
    user: object = cairn.services.identity.app.repository.get(UUID(person.session["user_id"]))
    assert isinstance(user, User)
    return user


def test_sign_up_then_log_in_then_see_oneself(cairn: Cairn) -> None:
    ada = cairn.sign_up("lovelace")
    again = cairn.log_in(ada.authenticator)
    assert again.session["user_id"] == ada.session["user_id"]
    assert again.session["device_id"] != ada.session["device_id"]
    me = cairn.client.get("/v1/me", headers=again.headers)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["display_name"] == "Ada Lovelace"
    assert "tenant.admin" in body["capabilities"]
    assert len(body["devices"]) == 2 and len(body["passkeys"]) == 1


def test_taken_tenant_slug_is_a_conflict(cairn: Cairn) -> None:
    cairn.sign_up("taken")
    response = cairn.client.post(
        "/v1/signup/begin",
        json={"tenant_slug": "taken", "tenant_name": "T", "display_name": "B", "email": "b@x.org"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_no_token_and_a_bad_token_are_401(cairn: Cairn) -> None:
    assert cairn.client.get("/v1/me").json()["error"]["code"] == "token_missing"
    response = cairn.client.get("/v1/me", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("foreign origin", {"origin": "https://evil.example"}, "passkey_origin_not_allowed"),
    ("wrong RP id", {"rp_id": "evil.example"}, "passkey_rp_id_mismatch"),
    ("user verification flag clear", {"user_verified": False}, "passkey_user_not_verified"),
    ("user presence flag clear", {"user_present": False}, "passkey_user_not_present"),
    ("counter gone backwards", {"sign_count": 0}, "passkey_sign_count_regressed"),
    ("tampered signature", {"tamper_signature": True}, "passkey_signature_invalid"),
]


@pytest.mark.parametrize(("why", "knobs", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_bad_assertions_are_refused_and_change_nothing(
    cairn: Cairn, why: str, knobs: dict[str, Any], code: str
) -> None:
    ada = cairn.sign_up("refusals")
    cairn.log_in(ada.authenticator)  # the counter is now above 0
    before = _user(cairn, ada).version
    begun = cairn.begin_login()
    assertion = ada.authenticator.get(begun["options"], **knobs)
    response = cairn.client.post(
        "/v1/auth/login/finish", json={"ceremony_id": begun["ceremony_id"], "credential": assertion}
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code
    assert _user(cairn, ada).version == before


def test_replayed_assertion_is_refused(cairn: Cairn) -> None:
    ada = cairn.sign_up("replay")
    begun = cairn.begin_login()
    assertion = ada.authenticator.get(begun["options"])
    body = {"ceremony_id": begun["ceremony_id"], "credential": assertion}
    assert cairn.client.post("/v1/auth/login/finish", json=body).status_code == 200
    before = _user(cairn, ada).version
    replay = cairn.client.post("/v1/auth/login/finish", json=body)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "passkey_ceremony_unknown"
    assert _user(cairn, ada).version == before


def test_expired_challenge_is_refused(cairn: Cairn) -> None:
    ada = cairn.sign_up("expiry")
    begun = cairn.begin_login()
    assertion = ada.authenticator.get(begun["options"])
    time.sleep(5.5)  # the test settings give ceremonies 5 s
    response = cairn.client.post(
        "/v1/auth/login/finish", json={"ceremony_id": begun["ceremony_id"], "credential": assertion}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "passkey_ceremony_unknown"


def test_another_users_credential_cannot_step_up(cairn: Cairn) -> None:
    ada = cairn.sign_up("stepup-a")
    eve = cairn.sign_up("stepup-e", email="eve@example.com", name="Eve")
    begun = cairn.client.post("/v1/auth/step-up/begin", headers=ada.headers).json()
    eves = eve.authenticator.credentials[0]
    assertion = eve.authenticator.get({**begun["options"], "allowCredentials": []}, credential=eves)
    response = cairn.client.post(
        "/v1/auth/step-up/finish",
        headers=ada.headers,
        json={"ceremony_id": begun["ceremony_id"], "credential": assertion},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"].startswith("passkey_")


def test_unknown_authenticator_cannot_log_in(cairn: Cairn) -> None:
    cairn.sign_up("stranger")
    stranger = SoftwareAuthenticator(cairn.services.settings.origins[0])
    begun = cairn.begin_login()
    stranger.credentials.append(
        SoftwareCredential(rp_id=cairn.services.settings.rp_id, user_handle=b"x" * 16)
    )
    assertion = stranger.get(begun["options"])
    response = cairn.client.post(
        "/v1/auth/login/finish", json={"ceremony_id": begun["ceremony_id"], "credential": assertion}
    )
    assert response.status_code == 401


def _security_events(cairn: Cairn) -> list[dict[str, Any]]:
    app = cairn.services.identity.app
    found: list[dict[str, Any]] = []
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=500):
        for notification in page:
            if notification.topic.endswith("SecurityEvent.SecurityEventRecorded"):
                event: Any = app.mapper.to_domain_event(notification)
                found.append(
                    {"kind": event.kind, "outcome": event.outcome, "details": event.details}
                )
        start = page[-1].id + 1
    return found


def test_logins_failures_and_clone_suspicions_are_events_in_the_store(cairn: Cairn) -> None:
    ada = cairn.sign_up("audit")
    cairn.log_in(ada.authenticator)
    begun = cairn.begin_login()
    clone = ada.authenticator.get(begun["options"], sign_count=0)
    cairn.client.post(
        "/v1/auth/login/finish", json={"ceremony_id": begun["ceremony_id"], "credential": clone}
    )
    events = _security_events(cairn)
    kinds = [(e["kind"], e["outcome"]) for e in events]
    assert ("signup", "succeeded") in kinds
    assert ("login", "succeeded") in kinds
    refused = [e for e in events if e["outcome"] == "refused"]
    assert len(refused) == 1
    assert refused[0]["details"]["flag"] == "possible_cloned_authenticator"
    assert refused[0]["details"]["code"] == "passkey_sign_count_regressed"
