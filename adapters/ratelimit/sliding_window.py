"""Sliding-window rate limits on Redis: an exact log of request times in a sorted set.

One Lua script per request trims entries older than the window, counts, and adds the request
only if it is under the limit — atomic, so concurrent API processes cannot overshoot. Time is
Redis's own clock (`TIME`), so API hosts with skewed clocks still share one window.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from adapters.ratelimit.errors import RateLimiterUnavailable, RateLimitExceeded
from adapters.ratelimit.keys import opaque
from commands.ports.ratelimit import AUTH_ROUTE_CLASS, RateLimitDecision

logger = logging.getLogger("cairn.ratelimit")

_ROUTE_CLASS = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

# KEYS[1] the window's sorted set; ARGV: limit, window (microseconds), unique member.
# Returns {allowed (1/0), remaining, microseconds until a slot frees (0 if allowed)}.
_SLIDING_WINDOW = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now}
"""


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """At most `limit` requests per `window_s` seconds for one (tenant, subject)."""

    limit: int
    window_s: float
    # Allow requests when Redis is down. Never for `auth`: an outage must not open the door
    # to password-spraying or token guessing.
    fail_open: bool = False

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window_s > 0")


DEFAULT_LIMITS: Mapping[str, RouteLimit] = {
    AUTH_ROUTE_CLASS: RouteLimit(limit=20, window_s=60),
    "command": RouteLimit(limit=120, window_s=60),
    "query": RouteLimit(limit=600, window_s=60),
}


class RedisRateLimiter:
    """Implements `commands.ports.ratelimit.RateLimiter`."""

    def __init__(
        self,
        client: redis.Redis,
        limits: Mapping[str, RouteLimit] = DEFAULT_LIMITS,
        prefix: str = "cairn:rl",
    ) -> None:
        for route_class, route_limit in limits.items():
            if not _ROUTE_CLASS.match(route_class):
                raise ValueError(f"route class {route_class!r} is not a short lowercase name")
            if route_class == AUTH_ROUTE_CLASS and route_limit.fail_open:
                raise ValueError("the auth route class must fail closed")
        self.limits = dict(limits)
        self.prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)

    def _limit_of(self, route_class: str) -> RouteLimit:
        try:
            return self.limits[route_class]
        except KeyError:
            raise ValueError(f"no rate limit configured for route class {route_class!r}") from None

    def hit(self, route_class: str, tenant: str, subject: str) -> RateLimitDecision:
        route_limit = self._limit_of(route_class)
        key = f"{self.prefix}:{route_class}:{opaque(tenant, subject)}"
        window_us = round(route_limit.window_s * 1_000_000)
        try:
            result: Any = self._script(
                keys=[key], args=[route_limit.limit, window_us, uuid.uuid4().hex]
            )
        except redis.RedisError as exc:
            if not route_limit.fail_open:
                raise RateLimiterUnavailable() from exc
            logger.warning("rate limiter unavailable; %s requests pass unlimited", route_class)
            return RateLimitDecision(
                allowed=True,
                limit=route_limit.limit,
                remaining=route_limit.limit,
                retry_after=0.0,
                degraded=True,
            )
        allowed, remaining, wait_us = (int(value) for value in result)
        return RateLimitDecision(
            allowed=bool(allowed),
            limit=route_limit.limit,
            remaining=remaining,
            retry_after=wait_us / 1_000_000,
        )

    def enforce(self, route_class: str, tenant: str, subject: str) -> RateLimitDecision:
        decision = self.hit(route_class, tenant, subject)
        if not decision.allowed:
            raise RateLimitExceeded(route_class, decision.retry_after)
        return decision
