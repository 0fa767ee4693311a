"""Sessions end when their device is revoked, refresh-token reuse ends the family, and
sensitive changes need a fresh passkey assertion."""

from __future__ import annotations

import time

import pytest

from tests.support.cairn_client import Cairn

pytestmark = pytest.mark.e2e


def test_revoking_a_device_ends_its_session_on_the_next_request(cairn: Cairn) -> None:
    ada = cairn.sign_up("devices")
    laptop = cairn.log_in(ada.authenticator)
    assert cairn.client.get("/v1/me", headers=laptop.headers).status_code == 200
    unfresh = cairn.client.post(
        f"/v1/devices/{laptop.session['device_id']}/revoke", headers=ada.headers
    )
    # The sign-up session is fresh for five minutes; an old one would need a step-up first.
    assert unfresh.status_code == 200, unfresh.text
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
    assert granted.status_code == 200, granted.text
    assert (
        "payments.up_to:50"
        in cairn.client.get("/v1/me", headers=bob.headers).json()["capabilities"]
    )
    revoked = cairn.client.delete(f"{path}/payments.up_to:50", headers=ada.headers)
    assert revoked.status_code == 200, revoked.text


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
    assert done.status_code == 200, done.text
