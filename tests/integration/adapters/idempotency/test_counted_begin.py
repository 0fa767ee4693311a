"""A record's begin that also counts the request against its caller's rate limit (one script),
and its answer kept without waiting for Redis's reply (decision 0057)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.idempotency import (
    IdempotencyKeyReused,
    IdempotencyRequestInFlight,
    IdempotencyStore,
)
from adapters.ratelimit import RateLimiterUnavailable, RateLimitExceeded, RedisRateLimiter
from adapters.ratelimit.sliding_window import RouteLimit
from adapters.unanswered import UnansweredWrites
from commands.ports.idempotency import StoredResponse, fingerprint
from commands.ports.ratelimit import RateCount
from domain.errors import Unavailable
from infra.stack.ports import free_port

pytestmark = pytest.mark.integration

FP = fingerprint("POST", "/v1/intents", b'{"text":"hi"}')
ANSWER = StoredResponse(202, {"run_id": "r1", "position": 7})


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def store(client: redis.Redis, unique_name: str) -> IdempotencyStore:
    return IdempotencyStore(client, prefix=f"{unique_name}:idem")


def counting(client: redis.Redis, prefix: str, limit: int, *, fail_open: bool = False) -> RateCount:
    limiter = RedisRateLimiter(
        client, {"command": RouteLimit(limit, 60, fail_open=fail_open)}, prefix=prefix
    )
    return RateCount(limiter, "command", "tenant-a", "user-1")


def remaining(count: RateCount) -> int:
    """What the caller has left, read by counting one more request alone."""
    return count.limiter.hit(count.route_class, count.tenant, count.subject).remaining


def test_each_begin_counts_once_whatever_it_finds(
    client: redis.Redis, store: IdempotencyStore, unique_name: str
) -> None:
    count = counting(client, f"{unique_name}:rate", 5)
    assert store.begin("s", "k1", FP, count) is None  # 1: begun
    with pytest.raises(IdempotencyRequestInFlight):
        store.begin("s", "k1", FP, count)  # 2: in flight
    store.complete("s", "k1", FP, ANSWER)
    assert store.begin("s", "k1", FP, count) == ANSWER  # 3: replayed
    with pytest.raises(IdempotencyKeyReused):
        store.begin("s", "k1", fingerprint("POST", "/v1/intents", b"{}"), count)  # 4: refused
    assert remaining(count) == 0  # the fifth request, counted alone


def test_a_refused_request_begins_nothing_and_is_not_counted(
    client: redis.Redis, store: IdempotencyStore, unique_name: str
) -> None:
    count = counting(client, f"{unique_name}:rate", 1)
    assert store.begin("s", "first", FP, count) is None
    for _ in range(2):
        with pytest.raises(RateLimitExceeded) as caught:
            store.begin("s", "second", FP, count)
        assert caught.value.details == {"retry_after": 60, "route_class": "command"}
    assert store.begin("s", "second", FP) is None  # no record was left by the refusals


def test_a_limiter_on_another_client_counts_with_a_call_of_its_own(
    redis_url: str, store: IdempotencyStore, unique_name: str
) -> None:
    count = counting(redis.Redis.from_url(redis_url), f"{unique_name}:rate", 1)
    assert store.begin("s", "k1", FP, count) is None
    with pytest.raises(RateLimitExceeded):
        store.begin("s", "k2", FP, count)
    assert store.begin("s", "k2", FP) is None


def test_redis_down_fails_as_the_limit_and_the_record_would_alone(unique_name: str) -> None:
    down = redis.Redis(
        port=free_port(),
        socket_connect_timeout=0.2,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    store = IdempotencyStore(down, prefix=unique_name)
    with pytest.raises(RateLimiterUnavailable):
        store.begin("s", "k", FP, counting(down, unique_name, 5))
    with pytest.raises(Unavailable) as caught:  # the limit lets it pass; the record cannot
        store.begin("s", "k", FP, counting(down, unique_name, 5, fail_open=True))
    assert not isinstance(caught.value, RateLimiterUnavailable)


def test_kept_answers_leave_no_reply_on_the_connections(
    client: redis.Redis, store: IdempotencyStore
) -> None:
    keys = [uuid.uuid4().hex for _ in range(20)]
    for key in keys:
        assert store.begin("s", key, FP) is None
        store.complete("s", key, FP, ANSWER)
    assert [store.begin("s", key, FP) for key in keys] == [ANSWER] * 20
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        assert not connection.can_read(timeout=0.05)  # no reply was left unread
    finally:
        pool.release(connection)


def test_unanswered_writes_skip_the_replies_of_a_server_that_can(
    client: redis.Redis, unique_name: str
) -> None:
    writes = UnansweredWrites(client)
    writes.set(f"{unique_name}:probed", "1", ex=60)
    writes.set(f"{unique_name}:skipped", "2", ex=60)
    assert writes.skips is True
    assert client.mget(f"{unique_name}:probed", f"{unique_name}:skipped") == [b"1", b"2"]
    assert 0 < client.ttl(f"{unique_name}:skipped") <= 60


@pytest.fixture
def without_client_command(redis_url: str, unique_name: str) -> Iterator[redis.Redis]:
    """A client whose user may not run CLIENT (as behind some proxies)."""
    admin = redis.Redis.from_url(redis_url)
    user = f"{unique_name}-noclient"
    admin.acl_setuser(
        user, enabled=True, nopass=True, keys=["*"], categories=["+@all"], commands=["-client"]
    )
    try:
        yield redis.Redis.from_url(redis_url, username=user, password="")
    finally:
        admin.acl_deluser(user)


def test_a_server_that_refuses_to_skip_replies_gets_writes_that_wait_for_them(
    without_client_command: redis.Redis, unique_name: str
) -> None:
    writes = UnansweredWrites(without_client_command)
    for number in range(3):
        writes.set(f"{unique_name}:{number}", str(number), ex=60)
    assert writes.skips is False
    assert [without_client_command.get(f"{unique_name}:{n}") for n in range(3)] == [
        b"0",
        b"1",
        b"2",
    ]
