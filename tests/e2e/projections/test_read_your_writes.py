"""A command followed at once by a query with `?after=<its position>` sees its own write,
every time; a stored position the view cannot reach in time is a clear 409, and a position the
store never handed out a 400 at once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ServiceUrls
from commands.settings import CairnSettings
from entrypoints.projector_cli import projection_settings
from projections.engine import projector_registry, view_reads
from projections.engine.projector_host import ProjectorHost
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


def test_a_stored_position_the_view_has_not_applied_in_time_is_a_409(
    cairn_settings: CairnSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view_reads, "DEFAULT_WAIT", 0.3)  # the same answer, sooner
    s = cairn_settings
    urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
    with TestClient(create_app(urls, settings=s)) as client:
        cairn = Cairn(client)
        with ProjectorHost(projection_settings(s), list(projector_registry.PROJECTORS.values())):
            ada = cairn.sign_up("behind")
            _users(cairn, ada, ada.session["position"])
        # The projectors have stopped: the store moves on, the views do not.
        path = f"/v1/users/{ada.session['user_id']}/capabilities"
        granted = client.post(path, headers=ada.headers, json={"capability": "notes.later"})
        assert granted.status_code == 202, granted.text
        stored = granted.json()["position"]
        for view in ("/v1/users", "/v1/security-events"):
            answer = client.get(f"{view}?after={stored}", headers=ada.headers)
            assert answer.status_code == 409, answer.text
            error = answer.json()["error"]
            assert error["code"] == "projection_behind"
            assert f"has not reached position {stored}" in error["message"]
            assert error["details"]["position"] == stored


def test_a_position_beyond_the_store_is_refused_not_waited_for(directory_cairn: Cairn) -> None:
    cairn = directory_cairn
    ada = cairn.sign_up("beyond")
    stored = ada.session["position"]
    far = stored + 1_000_000
    for path in ("/v1/users", "/v1/security-events", "/v1/runs", "/v1/context/memories"):
        answer = cairn.client.get(f"{path}?after={far}", headers=ada.headers)
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == "position_beyond_store"
        assert error["details"]["position"] == far
        assert stored <= error["details"]["last"] < far
    # The store's last position itself is one it handed out: waited for, and reached.
    assert cairn.client.get(f"/v1/users?after={stored}", headers=ada.headers).status_code == 200
