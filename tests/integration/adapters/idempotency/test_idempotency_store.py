from __future__ import annotations

import pytest
import redis

from adapters.idempotency import (
    IdempotencyKeyReused,
    IdempotencyRequestInFlight,
    IdempotencyStore,
)
from commands.ports.idempotency import StoredResponse, fingerprint
from domain.errors import InvalidInput, Unavailable
from infra.stack.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def store(redis_url: str, unique_name: str) -> IdempotencyStore:
    return IdempotencyStore(redis.Redis.from_url(redis_url), prefix=unique_name)


def test_first_runs_retry_gets_the_same_response(store: IdempotencyStore) -> None:
    fp = fingerprint("POST", "/v1/intents", b'{"text":"hi"}')
    assert store.begin("tenant-a", "k1", fp) is None
    store.complete("tenant-a", "k1", fp, StoredResponse(202, {"run_id": "r1", "position": 7}))
    assert store.begin("tenant-a", "k1", fp) == StoredResponse(202, {"run_id": "r1", "position": 7})


def test_same_key_other_body_is_refused(store: IdempotencyStore) -> None:
    assert store.begin("t", "k", fingerprint("POST", "/x", b"1")) is None
    store.complete("t", "k", fingerprint("POST", "/x", b"1"), StoredResponse(202, {}))
    with pytest.raises(IdempotencyKeyReused):
        store.begin("t", "k", fingerprint("POST", "/x", b"2"))


def test_same_key_while_in_flight_is_a_conflict(store: IdempotencyStore) -> None:
    fp = fingerprint("POST", "/x", b"1")
    assert store.begin("t", "k", fp) is None
    with pytest.raises(IdempotencyRequestInFlight):
        store.begin("t", "k", fp)
    store.abandon("t", "k")
    assert store.begin("t", "k", fp) is None


def test_keys_are_scoped(store: IdempotencyStore) -> None:
    fp = fingerprint("POST", "/x", b"1")
    assert store.begin("tenant-a", "k", fp) is None
    assert store.begin("tenant-b", "k", fp) is None


def test_missing_key_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        IdempotencyStore.check_key(None)
    with pytest.raises(InvalidInput):
        IdempotencyStore.check_key("x" * 300)


def test_redis_down_fails_closed() -> None:
    down = IdempotencyStore(redis.Redis(port=free_port(), socket_connect_timeout=0.5))
    with pytest.raises(Unavailable):
        down.begin("t", "k", "fp")
