from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.ratelimit import DEFAULT_LIMITS, LockoutPolicy, LoginLocked, RateLimitExceeded
from adapters.ratelimit.errors import whole_seconds
from adapters.ratelimit.keys import opaque

pytestmark = pytest.mark.unit


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_retry_after_is_never_rounded_down_nor_zero(seconds: float) -> None:
    whole = whole_seconds(seconds)
    assert whole >= 1 and whole >= seconds
    assert whole == 1 or whole < seconds + 1


def test_errors_carry_whole_seconds() -> None:
    assert RateLimitExceeded("query", 0.01).details == {"retry_after": 1, "route_class": "query"}
    assert LoginLocked(30.2).details == {"retry_after": 31}


@given(
    st.lists(st.text(max_size=5), min_size=2, max_size=2),
    st.lists(st.text(max_size=5), min_size=2, max_size=2),
)
def test_key_parts_are_unambiguous(first: list[str], second: list[str]) -> None:
    if first != second:
        assert opaque(*first) != opaque(*second)


def test_lockout_policy_in_milliseconds() -> None:
    assert LockoutPolicy(5, 30, 900, 3600).as_args() == [5, 30_000, 900_000, 3_600_000]
    with pytest.raises(ValueError):
        LockoutPolicy(0, 30, 900, 3600)
    with pytest.raises(ValueError):
        LockoutPolicy(5, 901, 900, 3600)


def test_auth_fails_closed_by_default() -> None:
    assert not DEFAULT_LIMITS["auth"].fail_open
