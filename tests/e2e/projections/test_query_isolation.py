"""Through the query routes, a tenant's token never sees another tenant's rows; within a
tenant, only admins list users and everyone else sees only their own security events."""

from __future__ import annotations

import time

import pytest

from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e


def _get(cairn: Cairn, person: Person, path: str, status: int = 200) -> dict:  # type: ignore[type-arg]
    answer = cairn.client.get(path, headers=person.headers)
    assert answer.status_code == status, answer.text
    body: dict = answer.json()  # type: ignore[type-arg]
    return body


def test_tenants_and_members_see_only_what_is_theirs(directory_cairn: Cairn) -> None:
    cairn = directory_cairn
    ada = cairn.sign_up("tenant-a")
    eve = cairn.sign_up("tenant-b", email="eve@example.com", name="Eve")
    invite = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "b@example.com", "capabilities": []}
    )
    bob = cairn.accept(invite.json()["invitation_token"], "Bob")
    cairn.log_in(bob.authenticator)  # a login: one more security event of Bob's
    ids = {p.session["user_id"] for p in (ada, bob)}
    after = max(p.session["position"] for p in (ada, bob, eve))

    users_a = _get(cairn, ada, f"/v1/users?after={after}")["items"]
    users_b = _get(cairn, eve, f"/v1/users?after={after}")["items"]
    assert {u["user_id"] for u in users_a} == ids
    assert [u["user_id"] for u in users_b] == [eve.session["user_id"]]
    _get(cairn, bob, "/v1/users", status=403)

    # Security events are recorded just after their command: wait until Bob's login shows.
    deadline = time.monotonic() + 10
    while not any(e["kind"] == "login" for e in _get(cairn, bob, "/v1/security-events")["items"]):
        assert time.monotonic() < deadline, "bob's login never showed up"
        time.sleep(0.05)
    own = _get(cairn, bob, "/v1/security-events")["items"]
    assert own and {e["user_id"] for e in own} == {bob.session["user_id"]}
    _get(cairn, bob, f"/v1/security-events?user_id={ada.session['user_id']}", status=403)
    of_a = _get(cairn, ada, "/v1/security-events?limit=200")["items"]
    assert {e["user_id"] for e in of_a} >= {bob.session["user_id"]}
    assert {e["user_id"] for e in of_a} <= ids
    of_b = _get(cairn, eve, "/v1/security-events?limit=200")["items"]
    assert {e["user_id"] for e in of_b} <= {eve.session["user_id"]}
    # Tenant B asking for tenant A's user by id: nothing (row-level security, not only WHERE).
    assert _get(cairn, eve, f"/v1/security-events?user_id={bob.session['user_id']}")["items"] == []
    positions = {e["position"] for e in of_a} & {e["position"] for e in of_b}
    assert not positions


def test_pages_follow_the_cursor_without_gaps_or_repeats(directory_cairn: Cairn) -> None:
    cairn = directory_cairn
    ada = cairn.sign_up("pages")
    for _ in range(4):
        cairn.log_in(ada.authenticator)
    deadline = time.monotonic() + 10
    while True:  # the login facts are recorded just after each login
        everything = _get(cairn, ada, "/v1/security-events?limit=200")["items"]
        if sum(e["kind"] == "login" for e in everything) == 4:
            break
        assert time.monotonic() < deadline, everything
        time.sleep(0.05)
    seen: list[int] = []
    path = "/v1/security-events?limit=2"
    while True:
        page = _get(cairn, ada, path)
        seen += [e["position"] for e in page["items"]]
        if page["next_cursor"] is None:
            break
        path = f"/v1/security-events?limit=2&cursor={page['next_cursor']}"
    assert seen == [e["position"] for e in everything] and seen == sorted(seen, reverse=True)
    invite = cairn.client.post(
        "/v1/invitations", headers=ada.headers, json={"email": "b@example.com", "capabilities": []}
    )
    bob = cairn.accept(invite.json()["invitation_token"], "Bob")
    first = _get(cairn, ada, f"/v1/users?limit=1&after={bob.session['position']}")
    second = _get(cairn, ada, f"/v1/users?limit=1&cursor={first['next_cursor']}")
    assert [u["user_id"] for u in first["items"] + second["items"]] == [
        ada.session["user_id"],
        bob.session["user_id"],
    ]
    assert second["next_cursor"] is None
    bad = cairn.client.get("/v1/users?cursor=nonsense", headers=ada.headers)
    assert bad.status_code == 400, bad.text
