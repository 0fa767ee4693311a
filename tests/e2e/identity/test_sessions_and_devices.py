"""Sessions end when their device is revoked, refresh-token reuse ends the family, and
sensitive changes need a fresh passkey assertion."""

from __future__ import annotations

import time

import pytest

from commands.ports.passkeys import b64url
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def test_revoking_a_device_ends_its_session_on_the_next_request(cairn: Cairn) -> None:
    ada = cairn.sign_up("devices")
    laptop = cairn.log_in(ada.authenticator)
    assert cairn.client.get("/v1/me", headers=laptop.headers).status_code == 200
    unfresh = cairn.client.post(
        f"/v1/devices/{laptop.session['device_id']}/revoke", headers=ada.headers
    )
    # The sign-up session is fresh for five minutes; an old one would need a step-up first.
    assert unfresh.status_code == 202, unfresh.text
    after = cairn.client.get("/v1/me", headers=laptop.headers)
    assert after.status_code == 401
    assert cairn.client.get("/v1/me", headers=ada.headers).status_code == 200
    refresh = cairn.client.post(
        "/v1/auth/refresh", json={"refresh_token": laptop.session["refresh_token"]}
    )
    assert refresh.status_code == 401


def test_reused_refresh_token_revokes_the_family(cairn: Cairn) -> None:
    ada = cairn.sign_up("refresh")
    old = ada.session["refresh_token"]
    rotated = cairn.client.post("/v1/auth/refresh", json={"refresh_token": old})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    reuse = cairn.client.post("/v1/auth/refresh", json={"refresh_token": old})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "refresh_token_reused"
    again = cairn.client.post("/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert again.status_code == 401
    headers = {"Authorization": f"Bearer {new['access_token']}"}
    assert cairn.client.get("/v1/me", headers=headers).status_code == 401


def test_capability_changes_need_admin_and_step_up(cairn: Cairn) -> None:
    ada = cairn.sign_up("caps")
    invite = cairn.client.post(
        "/v1/invitations",
        headers=ada.headers,
        json={"email": "bob@example.com", "capabilities": ["email.send"]},
    )
    assert invite.status_code == 201, invite.text
    bob = cairn.accept(invite.json()["invitation_token"], "Bob")
    me = cairn.client.get("/v1/me", headers=bob.headers).json()
    assert "email.send" in me["capabilities"] and "tenant.admin" not in me["capabilities"]

    path = f"/v1/users/{bob.session['user_id']}/capabilities"
    by_bob = cairn.client.post(path, headers=bob.headers, json={"capability": "payments.up_to:50"})
    assert by_bob.status_code == 403
    granted = cairn.client.post(path, headers=ada.headers, json={"capability": "payments.up_to:50"})
    assert granted.status_code == 202, granted.text
    assert (
        "payments.up_to:50"
        in cairn.client.get("/v1/me", headers=bob.headers).json()["capabilities"]
    )
    revoked = cairn.client.delete(f"{path}/payments.up_to:50", headers=ada.headers)
    assert revoked.status_code == 202, revoked.text


def test_stale_session_must_step_up_before_revoking_a_device(
    cairn: Cairn, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = cairn.sign_up("stale")
    laptop = cairn.log_in(ada.authenticator)
    # Seven minutes later: the access token is still valid, the passkey proof is not fresh.
    later = time.time() + 420
    monkeypatch.setattr(cairn.services.identity.tokens, "clock", lambda: later)
    refused = cairn.client.post(
        f"/v1/devices/{laptop.session['device_id']}/revoke", headers=ada.headers
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "step_up_required"
    cairn.step_up(ada)
    done = cairn.client.post(
        f"/v1/devices/{laptop.session['device_id']}/revoke", headers=ada.headers
    )
    assert done.status_code == 202, done.text


def test_a_second_passkey_can_log_in_and_the_last_one_cannot_be_removed(cairn: Cairn) -> None:
    ada = cairn.sign_up("passkeys")
    begun = cairn.client.post("/v1/passkeys/begin", headers=ada.headers)
    assert begun.status_code == 200, begun.text
    laptop_key = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    created = laptop_key.create(begun.json()["options"])
    added = cairn.client.post(
        "/v1/passkeys/finish",
        headers=ada.headers,
        json={"ceremony_id": begun.json()["ceremony_id"], "credential": created, "name": "laptop"},
    )
    assert added.status_code == 202, added.text
    laptop = cairn.log_in(laptop_key)
    assert laptop.session["user_id"] == ada.session["user_id"]
    first = b64url(ada.authenticator.credentials[0].credential_id)
    removed = cairn.client.delete(f"/v1/passkeys/{first}", headers=ada.headers)
    assert removed.status_code == 202, removed.text
    # The removed passkey no longer logs in; the last one cannot be removed.
    begun_login = cairn.begin_login()
    assertion = ada.authenticator.get(begun_login["options"])
    refused = cairn.client.post(
        "/v1/auth/login/finish",
        json={"ceremony_id": begun_login["ceremony_id"], "credential": assertion},
    )
    assert refused.status_code == 401
    last = added.json()["credential_id"]
    kept = cairn.client.delete(f"/v1/passkeys/{last}", headers=ada.headers)
    assert kept.status_code == 409
    assert kept.json()["error"]["code"] == "invalid_transition"
