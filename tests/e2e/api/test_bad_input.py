"""Each hostile input that once got a 5xx now gets a 4xx with a machine-readable code: forged
cursors, extreme times and positions, empty ids, NUL characters in tokens and text, lengths
out of bounds, deeply nested JSON."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, cast

import pytest

from adapters.tokens.access import AccessTokens
from tests.e2e.runs.test_intent_lifecycle import SARAH, submit, with_model_answering
from tests.support.in_process import Cairn, Person

pytestmark = pytest.mark.e2e

INT64 = 2**63 - 1
PAGED = ("/v1/users", "/v1/security-events", "/v1/runs", "/v1/approvals")


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED_CURSORS = [
    "%%%",
    "not base64 at all!",
    _b64(b"\xff\xfe"),
    _b64(b"{not json"),
    _b64({"a": 1}),
    _b64([]),
    _b64([1, 2, 3]),
    _b64(["not a time", "not a uuid"]),
    _b64(["2026-01-01T00:00:00+00:00", "not a uuid"]),
    _b64(["2026-01-01T00:00:00", str(uuid.uuid4())]),  # no time zone
    _b64(["9999-12-31T23:59:59-23:59", str(uuid.uuid4())]),
    _b64([None, None]),
    _b64([2**64, 1]),
    _b64(["x"]),
    _b64([2**64]),
    _b64([-1]),
    _b64([1.5]),
    _b64([True]),
    _b64(["a\u0000b", str(uuid.uuid4())]),
]


def _error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    error: dict[str, Any] = response.json()["error"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def ada(served: Cairn) -> Person:
    person = served.sign_up("badinput")
    with_model_answering(served, person, SARAH)
    submit(served, person, "Schedule a meeting with Sarah")
    return person


def test_forged_cursors_are_refused_on_every_paged_list(served: Cairn, ada: Person) -> None:
    for path in PAGED:
        for cursor in FORGED_CURSORS:
            answer = served.client.get(path, headers=ada.headers, params={"cursor": cursor})
            _error(answer, 400, "invalid_cursor")


def test_a_cursor_given_out_still_pages(served: Cairn, ada: Person) -> None:
    positions = [submit(served, ada, "Another meeting")["position"] for _ in range(2)]
    # Read-your-writes: the runs view holds both runs before it is paged.
    first = served.client.get(
        "/v1/runs", headers=ada.headers, params={"limit": 1, "after": max(positions)}
    )
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    second = served.client.get("/v1/runs", headers=ada.headers, params={"cursor": cursor})
    assert second.status_code == 200, second.text
    seen = {item["run_id"] for item in first.json()["items"]}
    assert seen.isdisjoint(item["run_id"] for item in second.json()["items"])


@pytest.mark.parametrize(
    "params",
    [
        {"since": "9999-12-31T23:59:59-23:59"},
        {"since": "0001-01-01T00:00:00+23:59"},
        {"until": "0001-01-01T00:00:00+14:00"},
        {"until": "9999-12-31T23:59:59.999999-14:00"},
        {"after": str(INT64 + 1)},
        {"after": str(2**64)},
        {"after": str(10**30)},
        {"aggregate_id": ""},
    ],
)
def test_audit_refuses_what_it_cannot_ask_the_store(
    served: Cairn, ada: Person, params: dict[str, str]
) -> None:
    answer = served.client.get("/v1/audit/events", headers=ada.headers, params=params)
    assert 400 <= answer.status_code < 500, answer.text


def test_audit_accepts_the_extremes_it_can_ask(served: Cairn, ada: Person) -> None:
    for params in (
        {"since": "0001-01-01T00:00:00Z"},
        {"until": "9999-12-31T00:00:00Z"},
        {"after": str(INT64)},
    ):
        answer = served.client.get("/v1/audit/events", headers=ada.headers, params=params)
        assert answer.status_code == 200, answer.text


# A fixed id: a random one would name the test differently in each pytest-xdist worker.
@pytest.mark.parametrize("path", [*PAGED, "/v1/runs/00000000-0000-4000-8000-000000000001"])
@pytest.mark.parametrize("after", [INT64 + 1, 2**64, -1])
def test_positions_beyond_the_store_are_the_callers_fault(
    served: Cairn, ada: Person, path: str, after: int
) -> None:
    answer = served.client.get(path, headers=ada.headers, params={"after": str(after)})
    _error(answer, 422, "validation_failed")


def test_a_nul_in_a_refresh_tokens_tenant_is_an_invalid_token(served: Cairn) -> None:
    for tenant in ("a\x00b", "\x00", "not-a-uuid", str(uuid.uuid4()) + "\x00"):
        token = f"crt1.{_b64(tenant.encode())}.{'A' * 43}"
        answer = served.client.post("/v1/auth/refresh", json={"refresh_token": token})
        _error(answer, 401)


def test_a_nul_in_an_access_tokens_tenant_is_an_invalid_token(served: Cairn, ada: Person) -> None:
    tokens = cast(AccessTokens, served.services.identity.tokens)
    for tenant in ("a\x00b", "not-a-uuid"):
        token = tokens.issue(
            tenant=tenant,
            user_id=ada.session["user_id"],
            session_id=ada.session["session_id"],
            device_id=ada.session["device_id"],
            auth_time=0,
        )
        answer = served.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        _error(answer, 401)


@pytest.mark.parametrize("capability", ["x", "ab", "c" * 121])
def test_a_capability_name_out_of_bounds_is_refused(
    served: Cairn, ada: Person, capability: str
) -> None:
    user = ada.session["user_id"]
    answer = served.client.delete(
        f"/v1/users/{user}/capabilities/{capability}", headers=ada.headers
    )
    error = _error(answer, 422, "validation_failed")
    assert error["details"]["errors"][0]["location"][-1] == "capability"


@pytest.mark.parametrize("depth", [33, 300, 900, 5000, 100_000])
def test_deeply_nested_json_is_refused(served: Cairn, ada: Person, depth: int) -> None:
    credential = "[" * depth + "]" * depth
    body = '{"ceremony_id": "c", "credential": {"response": ' + credential + "}}"
    answer = served.client.post(
        f"/v1/approvals/{uuid.uuid4()}/approve",
        headers={
            **ada.headers,
            "Idempotency-Key": uuid.uuid4().hex,
            "Content-Type": "application/json",
        },
        content=body,
    )
    assert 400 <= answer.status_code < 500, answer.text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("meet Sarah\x00", "NUL character"),
        ("\ud800 lone high surrogate", "lone surrogate"),
        ("lone low surrogate \udfff", "lone surrogate"),
    ],
)
def test_text_no_view_can_store_is_refused_with_its_field(
    served: Cairn, ada: Person, text: str, reason: str
) -> None:
    answer = served.client.post(
        "/v1/intents",
        headers={
            **ada.headers,
            "Idempotency-Key": uuid.uuid4().hex,
            "Content-Type": "application/json",
        },
        content=json.dumps({"text": text}),  # a lone surrogate as a \uXXXX escape
    )
    error = _error(answer, 422, "validation_failed")
    (problem,) = error["details"]["errors"]
    assert problem["location"] == ["body", "text"]
    assert reason in problem["message"]


@pytest.mark.parametrize(
    ("value", "said"),
    [("\ud800", "id: contains a lone surrogate"), ("a\x00", "id: contains a NUL")],
)
def test_unstorable_text_deep_in_a_body_is_refused_with_its_path(
    served: Cairn, ada: Person, value: str, said: str
) -> None:
    answer = served.client.post(
        f"/v1/approvals/{uuid.uuid4()}/approve",
        headers={**ada.headers, "Content-Type": "application/json"},
        content=json.dumps({"ceremony_id": "c", "credential": {"id": value}}),
    )
    (problem,) = _error(answer, 422, "validation_failed")["details"]["errors"]
    assert problem["location"] == ["body", "credential"] and said in problem["message"]


def test_a_stream_position_beyond_the_store_is_refused(served: Cairn, ada: Person) -> None:
    for position in (str(INT64 + 1), str(2**64), "-1"):
        with served.client.stream(
            "GET", "/v1/stream", headers={**ada.headers, "Last-Event-ID": position}
        ) as answer:
            assert answer.status_code == 400, answer.read()
