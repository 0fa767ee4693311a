"""Pure parts of the provider work: derived ids, error classification by the provider's own
signals, the calendar feed's facts, and the escalation of a step that needs the person."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from adapters.integrations.providers.errors import classify, google_reason, graph_code, retry_after
from adapters.integrations.providers.ids import google_event_id, graph_transaction_id, message_id
from commands.ports.integrations import ErrorKind
from domain.integrations.sync import CalendarFeed, feed_id
from domain.runs.run import Run, RunStatus

pytestmark = pytest.mark.unit


def google_error(status: int, reason: str) -> httpx.Response:
    body = {"error": {"errors": [{"reason": reason, "message": "m"}], "code": status}}
    return httpx.Response(status, json=body)


def test_derived_ids_are_stable_distinct_and_well_formed() -> None:
    keys = [f"k{n}" for n in range(200)]
    event_ids = {google_event_id(k) for k in keys}
    assert len(event_ids) == 200
    assert all(re.fullmatch(r"[a-v0-9]{5,1024}", i) for i in event_ids)
    assert len({graph_transaction_id(k) for k in keys}) == 200
    assert re.fullmatch(r"<[0-9a-f]{40}@cairn\.invalid>", message_id("k1"))
    assert message_id("k1") == message_id("k1") != message_id("k2")


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (google_error(403, "rateLimitExceeded"), ErrorKind.RATE_LIMITED),
        (google_error(403, "userRateLimitExceeded"), ErrorKind.RATE_LIMITED),
        (google_error(403, "insufficientPermissions"), ErrorKind.REJECTED),
        (google_error(429, "rateLimitExceeded"), ErrorKind.RATE_LIMITED),
        (google_error(500, "backendError"), ErrorKind.SERVER_ERROR),
        (google_error(400, "invalid"), ErrorKind.REJECTED),
    ],
)
def test_google_errors_are_classified_by_reason(response: httpx.Response, kind: ErrorKind) -> None:
    error = classify(response, provider="google", action="a", code=google_reason(response))
    assert error.kind is kind


def test_graph_retry_after_in_seconds_or_as_a_date_and_capped() -> None:
    later = datetime(2026, 12, 6, 12, 0, 30, tzinfo=UTC)
    now = later - timedelta(seconds=30)
    date = httpx.Response(429, headers={"Retry-After": "Sun, 06 Dec 2026 12:00:30 GMT"})
    assert retry_after(date, now) == 30.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "5"})) == 5.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "86400"})) == 120.0
    assert retry_after(httpx.Response(429)) is None
    throttled = httpx.Response(
        429, headers={"Retry-After": "3"}, json={"error": {"code": "TooManyRequests"}}
    )
    error = classify(throttled, provider="microsoft", action="a", code=graph_code(throttled))
    assert (error.kind, error.retry_after, error.message) == (
        ErrorKind.RATE_LIMITED,
        3.0,
        "HTTP 429 (TooManyRequests)",
    )


def test_error_text_that_is_no_code_is_never_kept() -> None:
    leaky = httpx.Response(400, json={"error": {"code": "bad token ya29.secret", "message": "x"}})
    error = classify(leaky, provider="microsoft", action="a", code=graph_code(leaky))
    assert error.message == "HTTP 400" and "ya29" not in str(error)


def test_a_feed_records_an_item_once_per_version() -> None:
    feed = CalendarFeed(tenant="t", person="p", provider="google")
    assert feed.id == feed_id("t", "p", "google") != feed_id("t", "p", "microsoft")
    fields = {"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}
    assert feed.sync_item("e1", '"1"', {"title": "pii:v1:x"}, fields)
    assert not feed.sync_item("e1", '"1"', {"title": "pii:v1:y"}, fields)
    assert feed.sync_item("e1", '"2"', {"title": "pii:v1:z"}, fields)
    assert feed.remove_item("e1") and not feed.remove_item("e1")
    names = [type(e).__name__ for e in feed.collect_events()]
    assert names == [
        "FeedStarted",
        "CalendarEventSynced",
        "CalendarEventSynced",
        "CalendarEventRemoved",
    ]


def test_a_step_that_needs_the_person_escalates_and_resumes_after_approval() -> None:
    run = Run(uuid4(), "Meet Sarah", "ada", None, "app")
    run.propose_plan({"steps": [{"step_id": "s1"}]}, "h", {})
    run.decide("APPROVE", {}, "h")
    run.start_step("s1")
    until = datetime.now(UTC) + timedelta(days=1)
    run.escalate_step("s1", "needs_person: reauth_required", until)
    assert run.status is RunStatus.ESCALATED and run.escalation_expires_at == until
    assert run.steps["s1"]["state"] == "escalated"
    run.approve_escalation("h", "ada", "cred", {}, datetime.now(UTC))
    assert run.status.value == "approved"
    run.start_step("s1")
    assert run.steps["s1"]["attempts"] == 2
