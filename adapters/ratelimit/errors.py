"""Errors of the rate limiter and login guard, with stable codes."""

from __future__ import annotations

import math

from domain.errors import RateLimited, Unavailable


def whole_seconds(retry_after: float) -> int:
    """Retry-After is whole seconds; rounding down would invite a retry that is refused."""
    return max(1, math.ceil(retry_after))


class RateLimitExceeded(RateLimited):
    code = "rate_limit_exceeded"

    def __init__(self, route_class: str, retry_after: float) -> None:
        super().__init__(
            "too many requests; retry later",
            {"retry_after": whole_seconds(retry_after), "route_class": route_class},
        )


class LoginLocked(RateLimited):
    """Too many failed logins for this account or from this address."""

    code = "login_locked"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "too many failed sign-in attempts; retry later",
            {"retry_after": whole_seconds(retry_after)},
        )


class RateLimiterUnavailable(Unavailable):
    """Redis is down and the route class fails closed."""

    code = "rate_limiter_unavailable"

    def __init__(self) -> None:
        super().__init__("rate limiting is unavailable; retry shortly")
