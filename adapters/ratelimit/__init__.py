"""Rate limits (sliding window) and login brute-force protection on Redis."""

from adapters.ratelimit.errors import LoginLocked, RateLimiterUnavailable, RateLimitExceeded
from adapters.ratelimit.login_guard import (
    DEFAULT_ACCOUNT_POLICY,
    DEFAULT_ADDRESS_POLICY,
    LockoutPolicy,
    RedisLoginGuard,
)
from adapters.ratelimit.sliding_window import DEFAULT_LIMITS, RedisRateLimiter, RouteLimit

__all__ = [
    "DEFAULT_ACCOUNT_POLICY",
    "DEFAULT_ADDRESS_POLICY",
    "DEFAULT_LIMITS",
    "LockoutPolicy",
    "LoginLocked",
    "RateLimitExceeded",
    "RateLimiterUnavailable",
    "RedisLoginGuard",
    "RedisRateLimiter",
    "RouteLimit",
]
