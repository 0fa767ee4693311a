from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.webauthn import (
    CeremonyKind,
    ChallengeStoreUnavailable,
    PasskeyRelyingParty,
    PendingCeremony,
    RedisChallengeStore,
)
from commands.ports.passkeys import CeremonyStart
from domain.errors import Unavailable
from infra.stack.ports import free_port
from tests.support.authenticator import (
    EXAMPLE_ORIGIN,
    EXAMPLE_RP_ID,
    PasskeyBook,
    SoftwareAuthenticator,
)

pytestmark = pytest.mark.integration

USER = "5d0c8f9e-0000-4000-8000-00000000a11c"


def ceremony(kind: CeremonyKind = CeremonyKind.AUTHENTICATION) -> PendingCeremony:
    return PendingCeremony(kind=kind, challenge=b"c" * 32, user_id=USER)


def test_a_ceremony_is_taken_once(challenges: RedisChallengeStore) -> None:
    challenges.put("one", ceremony(), ttl_s=5)
    assert challenges.take("one", CeremonyKind.AUTHENTICATION) == ceremony()
    assert challenges.take("one", CeremonyKind.AUTHENTICATION) is None


def test_a_take_of_another_kind_neither_matches_nor_spends(
    challenges: RedisChallengeStore,
) -> None:
    challenges.put("one", ceremony(CeremonyKind.APPROVAL), ttl_s=5)
    assert challenges.take("one", CeremonyKind.AUTHENTICATION) is None
    assert challenges.take("one", CeremonyKind.REGISTRATION) is None
    assert challenges.take("one", CeremonyKind.APPROVAL) is not None


def test_a_ceremony_expires(challenges: RedisChallengeStore) -> None:
    challenges.put("brief", ceremony(), ttl_s=0.2)
    time.sleep(0.3)
    assert challenges.take("brief", CeremonyKind.AUTHENTICATION) is None


def test_concurrent_takes_yield_the_ceremony_exactly_once(
    challenges: RedisChallengeStore,
) -> None:
    challenges.put("contested", ceremony(), ttl_s=5)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(lambda _: challenges.take("contested", CeremonyKind.AUTHENTICATION), range(32))
        )
    assert sum(result is not None for result in results) == 1


def test_a_ceremony_id_cannot_be_overwritten(challenges: RedisChallengeStore) -> None:
    challenges.put("one", ceremony(), ttl_s=5)
    with pytest.raises(ValueError):
        challenges.put("one", PendingCeremony(CeremonyKind.AUTHENTICATION, b"d" * 32, "mallory"), 5)
    assert challenges.take("one", CeremonyKind.AUTHENTICATION) == ceremony()


def test_default_ttls_are_short_and_kept_under_the_prefix(
    rp: PasskeyRelyingParty, redis_client: redis.Redis, unique_name: str
) -> None:
    rp.begin_registration(USER, "alice", "Alice", [])
    rp.begin_authentication(USER, [])
    rp.begin_plan_approval(USER, hashlib.sha256(b"plan").digest(), [])
    ttl_by_kind = {
        key.decode().split(":")[1]: redis_client.pttl(key)
        for key in redis_client.scan_iter(f"{unique_name}:*")
    }
    assert set(ttl_by_kind) == {"registration", "authentication", "approval"}
    assert 115_000 < ttl_by_kind["registration"] <= 120_000
    assert 115_000 < ttl_by_kind["authentication"] <= 120_000
    assert 295_000 < ttl_by_kind["approval"] <= 300_000


@pytest.fixture
def dead_rp(unique_name: str) -> PasskeyRelyingParty:
    dead = redis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.2,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    return PasskeyRelyingParty(
        EXAMPLE_RP_ID, "Cairn", [EXAMPLE_ORIGIN], RedisChallengeStore(dead, prefix=unique_name)
    )


def test_redis_down_fails_closed(
    dead_rp: PasskeyRelyingParty, rp: PasskeyRelyingParty, book: PasskeyBook
) -> None:
    # A perfectly valid response, made against a live relying party...
    device = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    ceremony_id, options = rp.begin_registration(USER, "alice", "Alice", [])
    book.add(rp.finish_registration(ceremony_id, device.create(options), book.exists))
    ceremony_id, options = rp.begin_authentication(USER, book.ids_of(USER))
    assertion = device.get(options)

    # ...is never accepted when the challenges cannot be read: 503, not a guess.
    with pytest.raises(ChallengeStoreUnavailable) as caught:
        dead_rp.finish_authentication(ceremony_id, assertion, book.lookup)
    assert isinstance(caught.value, Unavailable)
    assert caught.value.code == "passkey_challenges_unavailable"
    starts: list[Callable[[], CeremonyStart]] = [
        lambda: dead_rp.begin_registration(USER, "alice", "Alice", []),
        lambda: dead_rp.begin_authentication(None, []),
        lambda: dead_rp.begin_plan_approval(USER, b"p" * 32, []),
    ]
    for start in starts:
        with pytest.raises(ChallengeStoreUnavailable):
            start()
    with pytest.raises(ChallengeStoreUnavailable):
        dead_rp.finish_plan_approval("any", assertion, b"p" * 32, book.lookup)
    with pytest.raises(ChallengeStoreUnavailable):
        dead_rp.finish_registration("any", {}, book.exists)
