from __future__ import annotations

import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.ratelimit import LockoutPolicy, LoginLocked, RateLimiterUnavailable, RedisLoginGuard
from commands.ports.ratelimit import LoginGuard
from infra.stack.ports import free_port

pytestmark = pytest.mark.integration

ACCOUNT = LockoutPolicy(threshold=3, base_lock_s=0.3, max_lock_s=1.0, memory_s=5)
ADDRESS = LockoutPolicy(threshold=6, base_lock_s=0.3, max_lock_s=1.0, memory_s=5)


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def guard(client: redis.Redis, unique_name: str) -> RedisLoginGuard:
    return RedisLoginGuard(client, ACCOUNT, ADDRESS, prefix=unique_name)


def test_satisfies_the_port(guard: RedisLoginGuard) -> None:
    port: LoginGuard = guard
    assert port is guard


def test_account_locks_after_threshold_and_lockout_grows(guard: RedisLoginGuard) -> None:
    guard.check("alice", "10.0.0.1")
    assert guard.record_failure("alice", "10.0.0.1").account_locked_for == 0
    assert guard.record_failure("alice", "10.0.0.2").account_locked_for == 0
    third = guard.record_failure("alice", "10.0.0.3")
    assert (third.account_failures, third.account_locked_for) == (3, 0.3)
    assert third.address_locked_for == 0

    with pytest.raises(LoginLocked) as caught:
        guard.check("alice", "10.9.9.9")  # from anywhere
    assert caught.value.code == "login_locked"
    assert caught.value.details == {"retry_after": 1}
    guard.check("bob", "10.0.0.1")  # others are not affected

    time.sleep(0.35)
    guard.check("alice", "10.0.0.1")
    fourth = guard.record_failure("alice", "10.0.0.1")
    assert fourth.account_locked_for == 0.6  # doubled
    fifth = guard.record_failure("alice", "10.0.0.1")
    assert fifth.account_locked_for == 1.0  # capped


def test_success_resets_the_account_but_not_the_address(guard: RedisLoginGuard) -> None:
    for _ in range(2):
        guard.record_failure("alice", "10.0.0.1")
    guard.record_success("alice")
    after = guard.record_failure("alice", "10.0.0.1")
    assert after.account_failures == 1 and after.account_locked_for == 0
    assert after.address_failures == 3


def test_address_locks_across_accounts(guard: RedisLoginGuard) -> None:
    for number in range(6):
        outcome = guard.record_failure(f"user-{number}", "10.0.0.7")
    assert outcome.address_locked_for == 0.3 and outcome.account_locked_for == 0
    with pytest.raises(LoginLocked):
        guard.check("someone-new", "10.0.0.7")
    with pytest.raises(LoginLocked):
        guard.check(None, "10.0.0.7")  # before the account is even known
    guard.check("someone-new", "10.0.0.8")


def test_failures_without_an_account_count_for_the_address(guard: RedisLoginGuard) -> None:
    outcome = guard.record_failure(None, "10.0.0.9")
    assert (outcome.account_failures, outcome.address_failures) == (0, 1)


def test_nothing_personal_in_redis_keys(
    guard: RedisLoginGuard, client: redis.Redis, unique_name: str
) -> None:
    guard.record_failure("alice@example.com", "192.0.2.44")
    keys = [key.decode() for key in client.scan_iter(f"{unique_name}:*")]
    assert keys
    assert not any("alice" in key or "192.0.2.44" in key for key in keys)


def test_redis_down_fails_closed(unique_name: str) -> None:
    dead = redis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.2,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    guard = RedisLoginGuard(dead, ACCOUNT, ADDRESS, prefix=unique_name)
    with pytest.raises(RateLimiterUnavailable):
        guard.check("alice", "10.0.0.1")
    with pytest.raises(RateLimiterUnavailable):
        guard.record_failure("alice", "10.0.0.1")
    with pytest.raises(RateLimiterUnavailable):
        guard.record_success("alice")
