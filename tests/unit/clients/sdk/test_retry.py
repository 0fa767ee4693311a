"""When the SDK sends a request again, and how long it waits first."""

from __future__ import annotations

import pytest

from clients.sdk.errors import ApiError, Conflict, RateLimited, Unavailable, retry_after_seconds
from clients.sdk.retry import RetryPolicy, new_idempotency_key

pytestmark = pytest.mark.unit

POLICY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=10.0)


def test_no_answer_is_retried_with_exponential_backoff_up_to_the_attempts() -> None:
    delays = [POLICY.after_no_answer(attempt, safe=True) for attempt in range(4)]
    assert delays == [0.5, 1.0, 2.0, None]


def test_an_unsafe_request_is_never_sent_twice() -> None:
    assert POLICY.after_no_answer(0, safe=False) is None
    assert POLICY.after_error(Unavailable(503, "unavailable", "down"), 0, safe=False) is None


def test_retry_after_is_honoured_and_capped() -> None:
    soon = Unavailable(503, "unavailable", "down", retry_after=3)
    late = RateLimited(429, "rate_limited", "slow", retry_after=3600)
    assert POLICY.after_error(soon, 0, safe=True) == 3
    assert POLICY.after_error(late, 0, safe=True) == 10.0


def test_only_transient_errors_are_retried() -> None:
    in_flight = Conflict(409, "idempotency_request_in_flight", "busy")
    behind = Conflict(409, "projection_behind", "later")
    lost_race = Conflict(409, "conflict", "changed")
    bad = ApiError(400, "invalid_input", "no")
    assert POLICY.after_error(in_flight, 0, safe=True) == 0.5
    assert POLICY.after_error(behind, 1, safe=True) == 1.0
    assert POLICY.after_error(lost_race, 0, safe=True) is None
    assert POLICY.after_error(bad, 0, safe=True) is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_idempotency_keys_are_fresh_each_time() -> None:
    keys = {new_idempotency_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(key) >= 20 for key in keys)
