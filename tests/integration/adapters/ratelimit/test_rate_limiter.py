from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.ratelimit import (
    RateLimiterUnavailable,
    RateLimitExceeded,
    RedisRateLimiter,
    RouteLimit,
)
from commands.ports.ratelimit import RateLimiter
from domain.errors import RateLimited, Unavailable
from infra.stack.ports import free_port

pytestmark = pytest.mark.integration

LIMITS = {
    "auth": RouteLimit(limit=3, window_s=1.0),
    "command": RouteLimit(limit=3, window_s=1.0),
    "query": RouteLimit(limit=3, window_s=1.0, fail_open=True),
}


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def limiter(client: redis.Redis, unique_name: str) -> RedisRateLimiter:
    return RedisRateLimiter(client, LIMITS, prefix=unique_name)


def dead_redis() -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.2,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )


def test_satisfies_the_port(limiter: RedisRateLimiter) -> None:
    port: RateLimiter = limiter
    assert port is limiter


def test_n_allowed_then_refused_until_the_window_passes(limiter: RedisRateLimiter) -> None:
    decisions = [limiter.hit("command", "tenant-a", "user-1") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.retry_after == 0 and d.limit == 3 for d in decisions)

    refused = limiter.hit("command", "tenant-a", "user-1")
    assert not refused.allowed and refused.remaining == 0
    assert 0 < refused.retry_after <= 1.0
    again = limiter.hit("command", "tenant-a", "user-1")  # a refusal is not counted
    assert not again.allowed and again.retry_after <= refused.retry_after

    time.sleep(again.retry_after + 0.02)
    assert limiter.hit("command", "tenant-a", "user-1").allowed


def test_the_window_slides(limiter: RedisRateLimiter) -> None:
    start = time.monotonic()
    assert limiter.hit("command", "t", "u").allowed
    assert limiter.hit("command", "t", "u").allowed
    time.sleep(0.5)
    assert limiter.hit("command", "t", "u").allowed
    refused = limiter.hit("command", "t", "u")
    # Only the two oldest free up at 1 s; a fixed window would free all three.
    assert not refused.allowed and refused.retry_after <= 0.5 + 0.05
    time.sleep(max(0.0, 1.2 - (time.monotonic() - start)))
    assert limiter.hit("command", "t", "u").allowed
    assert limiter.hit("command", "t", "u").allowed
    assert not limiter.hit("command", "t", "u").allowed


def test_tenants_users_and_route_classes_are_counted_apart(limiter: RedisRateLimiter) -> None:
    for _ in range(3):
        limiter.hit("command", "tenant-a", "user-1")
    assert not limiter.hit("command", "tenant-a", "user-1").allowed
    assert limiter.hit("command", "tenant-b", "user-1").allowed
    assert limiter.hit("command", "tenant-a", "user-2").allowed
    assert limiter.hit("query", "tenant-a", "user-1").allowed
    # Separators inside names cannot merge two subjects into one key.
    for _ in range(3):
        limiter.hit("command", "a:b", "c")
    assert limiter.hit("command", "a", "b:c").allowed


def test_enforce_raises_429_with_whole_seconds(limiter: RedisRateLimiter) -> None:
    for _ in range(3):
        assert limiter.enforce("auth", "t", "addr:10.0.0.1").allowed
    with pytest.raises(RateLimitExceeded) as caught:
        limiter.enforce("auth", "t", "addr:10.0.0.1")
    assert isinstance(caught.value, RateLimited)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.details == {"retry_after": 1, "route_class": "auth"}


def test_concurrent_requests_never_overshoot(client: redis.Redis, unique_name: str) -> None:
    limiter = RedisRateLimiter(client, {"command": RouteLimit(10, 30)}, prefix=unique_name)
    start = threading.Barrier(25)
    allowed: list[bool] = []

    def attempt() -> None:
        start.wait()
        allowed.append(limiter.hit("command", "t", "u").allowed)

    threads = [threading.Thread(target=attempt) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(allowed) == [False] * 15 + [True] * 10


def test_redis_down_fails_closed_except_where_configured(unique_name: str) -> None:
    limiter = RedisRateLimiter(dead_redis(), LIMITS, prefix=unique_name)
    for route_class in ("auth", "command"):
        with pytest.raises(RateLimiterUnavailable) as caught:
            limiter.hit(route_class, "t", "u")
        assert isinstance(caught.value, Unavailable)
        assert caught.value.code == "rate_limiter_unavailable"
    degraded = limiter.hit("query", "t", "u")
    assert degraded.allowed and degraded.degraded


def test_configuration_is_checked(client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="fail closed"):
        RedisRateLimiter(client, {"auth": RouteLimit(5, 60, fail_open=True)})
    with pytest.raises(ValueError):
        RouteLimit(0, 60)
    with pytest.raises(ValueError):
        RedisRateLimiter(client, {"Bad:Name": RouteLimit(5, 60)})
    with pytest.raises(ValueError, match="no rate limit"):
        RedisRateLimiter(client, LIMITS).hit("upload", "t", "u")
