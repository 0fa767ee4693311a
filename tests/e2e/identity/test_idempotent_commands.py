"""Every command honours an Idempotency-Key the same way; an answer holding a credential is
never kept to be replayed."""

from __future__ import annotations

import pytest

from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def test_a_repeated_login_with_its_key_never_hands_out_the_tokens_again(cairn: Cairn) -> None:
    ada = cairn.sign_up("replay")
    begun = cairn.begin_login()
    body = {
        "ceremony_id": begun["ceremony_id"],
        "credential": ada.authenticator.get(begun["options"]),
    }
    headers = {"Idempotency-Key": "login-1"}
    first = cairn.client.post("/v1/auth/login/finish", headers=headers, json=body)
    assert first.status_code == 200, first.text
    assert first.json()["access_token"]
    again = cairn.client.post("/v1/auth/login/finish", headers=headers, json=body)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "idempotency_answer_not_kept"
    assert again.headers.get("idempotent-replayed") == "true"
    assert first.json()["access_token"] not in again.text
    assert first.json()["refresh_token"] not in again.text


def test_an_account_command_replays_its_answer_and_refuses_another_body(cairn: Cairn) -> None:
    ada = cairn.sign_up("replay2")
    invited = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "bob@example.com"}
    )
    bob = cairn.accept(invited.json()["invitation_token"], "Bob")
    path = f"/v1/users/{bob.session['user_id']}/capabilities"
    headers = {**ada.headers, "Idempotency-Key": "grant-1"}
    first = cairn.client.post(path, headers=headers, json={"capability": "email.send"})
    assert first.status_code == 202, first.text
    assert first.json()["user_id"] == bob.session["user_id"]
    assert first.json()["position"] is not None
    again = cairn.client.post(path, headers=headers, json={"capability": "email.send"})
    assert (again.status_code, again.json()) == (202, first.json())
    assert again.headers.get("idempotent-replayed") == "true"
    other = cairn.client.post(path, headers=headers, json={"capability": "notes.write"})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
