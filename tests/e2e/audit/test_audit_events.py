"""GET /v1/audit/events on a real server: every filter returns exactly the matching events."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.msg import Msg

from adapters.jetstream import headers as h
from tests.e2e.push.harness import LiveCairn, Member, store_positions

pytestmark = pytest.mark.e2e


def _pages(live: LiveCairn, who: Member, limit: int = 2, **params: Any) -> list[dict[str, Any]]:
    """Every page of a query, following `next_after`."""
    events: list[dict[str, Any]] = []
    after = 0
    for _ in range(200):
        answer = live.http.get(
            "/v1/audit/events",
            headers=who.headers,
            params={**params, "after": after, "limit": limit},
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["events"]) <= limit
        events += page["events"]
        if page["next_after"] is None:
            return events
        assert page["next_after"] > after
        after = page["next_after"]
    pytest.fail("pagination did not end")


def _positions(live: LiveCairn, who: Member, **params: Any) -> list[int]:
    return [event["position"] for event in _pages(live, who, **params)]


def _header(msg: Msg, name: str) -> str:
    return (msg.headers or {}).get(name, "")


def test_each_filter_returns_exactly_the_matching_events(live: LiveCairn) -> None:
    ada = live.sign_up("audit")
    first = [live.record(ada.tenant, n, actor="robot-1", correlation_id="corr-1") for n in range(3)]
    second = [
        live.record(ada.tenant, n, actor="robot-2", correlation_id="corr-2") for n in range(2)
    ]
    stored = live.store_messages(ada.tenant)
    by_seq = {int(_header(m, h.NATS_SEQUENCE)): m for m in stored}

    everything = _pages(live, ada, limit=3)
    assert [e["position"] for e in everything] == store_positions(stored)
    assert {e["tenant"] for e in everything} == {ada.tenant}

    assert _positions(live, ada, correlation_id="corr-1") == first
    assert _positions(live, ada, actor="robot-2") == second
    assert _positions(live, ada, actor="robot-1", correlation_id="corr-2") == []

    one = by_seq[first[1]]
    aggregate_id = _header(one, h.NATS_SUBJECT).rpartition(".")[2]
    assert _positions(live, ada, aggregate_id=aggregate_id) == [first[1]]

    recorded = [
        s
        for s, m in by_seq.items()
        if _header(m, h.TOPIC).endswith(":SecurityEvent.SecurityEventRecorded")
    ]
    assert _positions(live, ada, event_type="SecurityEvent.SecurityEventRecorded") == recorded
    assert _positions(live, ada, event_type="SecurityEventRecorded") == recorded
    users = [s for s, m in by_seq.items() if _header(m, h.NATS_SUBJECT).split(".")[-2] == "User"]
    assert users and _positions(live, ada, aggregate_type="User") == users

    times = {e["position"]: e["recorded_at"] for e in everything}
    window = _positions(live, ada, since=times[first[2]], until=times[second[1]])
    assert window == [first[2], second[0]]
    assert _positions(live, ada, since=times[second[1]]) == [second[1]]


def test_audit_is_per_tenant_and_needs_a_capability(live: LiveCairn) -> None:
    ada, bob = live.sign_up("audita"), live.sign_up("auditb")
    live.record(bob.tenant, 1, actor="robot-b")
    other_tenant = live.http.get(
        "/v1/audit/events", headers=ada.headers, params={"tenant": bob.tenant}
    )
    assert other_tenant.status_code == 403
    bobs_user = live.http.get(
        "/v1/audit/events", headers=ada.headers, params={"aggregate_id": bob.user_id}
    )
    assert bobs_user.status_code == 404
    assert bobs_user.json()["error"]["code"] == "not_found"
    assert _positions(live, ada, actor="robot-b") == []
    assert len(_positions(live, bob, actor="robot-b")) == 1

    carol = live.invite(ada, "carol")  # a member without audit.read or tenant.admin
    refused = live.http.get("/v1/audit/events", headers=carol.headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "audit_forbidden"
    assert live.http.get("/v1/audit/events").status_code == 401
