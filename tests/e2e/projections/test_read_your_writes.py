"""A command followed at once by a query with `?after=<its position>` sees its own write,
every time; a position the view cannot reach in time is a clear 409."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e


def _users(cairn: Cairn, person: Person, after: int) -> dict[str, dict[str, Any]]:
    answer = cairn.client.get(f"/v1/users?after={after}&limit=200", headers=person.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["position"] >= after
    return {user["user_id"]: user for user in answer.json()["items"]}


def test_every_command_is_visible_to_the_query_that_follows_it(directory_cairn: Cairn) -> None:
    cairn = directory_cairn
    ada = cairn.sign_up("ryw")
    me = ada.session["user_id"]
    assert ada.session["position"] is not None
    assert "tenant.admin" in _users(cairn, ada, ada.session["position"])[me]["capabilities"]
    path = f"/v1/users/{me}/capabilities"
    for i in range(12):
        capability = f"notes.n{i}"
        granted = cairn.client.post(path, headers=ada.headers, json={"capability": capability})
        assert granted.status_code == 202, granted.text
        assert capability in _users(cairn, ada, granted.json()["position"])[me]["capabilities"]
        revoked = cairn.client.delete(f"{path}/{capability}", headers=ada.headers)
        assert revoked.status_code == 202, revoked.text
        after = revoked.json()["position"]
        assert capability not in _users(cairn, ada, after)[me]["capabilities"]

    invite = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "b@example.com", "capabilities": []}
    )
    assert invite.status_code == 201, invite.text
    bob = cairn.accept(invite.json()["invitation_token"], "Bob")
    users = _users(cairn, ada, bob.session["position"])
    assert users[bob.session["user_id"]]["device_count"] == 1
    assert users[bob.session["user_id"]]["passkey_count"] == 1
    assert set(users) == {me, bob.session["user_id"]}


def test_a_position_not_reached_in_time_is_a_409(directory_cairn: Cairn) -> None:
    cairn = directory_cairn
    ada = cairn.sign_up("behind")
    far = ada.session["position"] + 1_000_000
    for path in ("/v1/users", "/v1/security-events"):
        answer = cairn.client.get(f"{path}?after={far}", headers=ada.headers)
        assert answer.status_code == 409, answer.text
        error = answer.json()["error"]
        assert error["code"] == "projection_behind"
        assert f"has not reached position {far}" in error["message"]
        assert error["details"]["position"] == far
