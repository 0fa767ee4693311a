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

# One request against a window (a sorted set of request times): trims the entries older than
# the window, counts, and adds the request only if it is under the limit. Returns {allowed
# (1/0), remaining, microseconds until a slot frees (0 if allowed)}. Shared by the scripts that
# count a request together with something else (adapters/idempotency.py).
WINDOW_HIT_LUA = """
local function window_hit(key, limit, window, member)
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count < limit then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, math.ceil(window / 1000))
    return {1, limit - count - 1, 0}
  end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, 0, tonumber(oldest[2]) + window - now}
end
"""

# KEYS[1] the window's sorted set; ARGV: limit, window (microseconds), unique member.
_SLIDING_WINDOW = (
    WINDOW_HIT_LUA + "return window_hit(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])\n"
)


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


@dataclass(frozen=True, slots=True)
class Window:
    """One request to count against a caller's window: the key and arguments of
    `window_hit` (WINDOW_HIT_LUA), wherever the script that counts it runs."""

    route_class: str
    key: str
    route_limit: RouteLimit
    member: str  # unique per request: two requests in the same microsecond both count

    @property
    def args(self) -> list[int | str]:
        return [self.route_limit.limit, round(self.route_limit.window_s * 1_000_000), self.member]


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
        self.client = client
        self.limits = dict(limits)
        self.prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)

    def _limit_of(self, route_class: str) -> RouteLimit:
        try:
            return self.limits[route_class]
        except KeyError:
            raise ValueError(f"no rate limit configured for route class {route_class!r}") from None

    def window(self, route_class: str, tenant: str, subject: str) -> Window:
        """What counting one request of `subject` in `tenant` takes (ValueError for a route
        class without a limit)."""
        return Window(
            route_class,
            f"{self.prefix}:{route_class}:{opaque(tenant, subject)}",
            self._limit_of(route_class),
            uuid.uuid4().hex,
        )

    def hit(self, route_class: str, tenant: str, subject: str) -> RateLimitDecision:
        window = self.window(route_class, tenant, subject)
        try:
            result: Any = self._script(keys=[window.key], args=window.args)
        except redis.RedisError as exc:
            return self.unreachable(window, exc)
        allowed, remaining, wait_us = (int(value) for value in result)
        return RateLimitDecision(
            allowed=bool(allowed),
            limit=window.route_limit.limit,
            remaining=remaining,
            retry_after=wait_us / 1_000_000,
        )

    def unreachable(self, window: Window, exc: redis.RedisError) -> RateLimitDecision:
        """Redis could not count `window`'s request: RateLimiterUnavailable, or for a route
        class that fails open an allowed, degraded decision."""
        route_limit = window.route_limit
        if not route_limit.fail_open:
            raise RateLimiterUnavailable() from exc
        logger.warning("rate limiter unavailable; %s requests pass unlimited", window.route_class)
        return RateLimitDecision(
            allowed=True,
            limit=route_limit.limit,
            remaining=route_limit.limit,
            retry_after=0.0,
            degraded=True,
        )

    def enforce(self, route_class: str, tenant: str, subject: str) -> RateLimitDecision:
        decision = self.hit(route_class, tenant, subject)
        if not decision.allowed:
            raise RateLimitExceeded(route_class, decision.retry_after)
        return decision
