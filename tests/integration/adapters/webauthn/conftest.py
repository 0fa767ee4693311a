"""A relying party whose ceremonies live in the real Redis, under this test's own key prefix."""

from __future__ import annotations

import pytest
import redis

from adapters.webauthn import PasskeyRelyingParty, RedisChallengeStore
from tests.support.authenticator import EXAMPLE_ORIGIN, EXAMPLE_RP_ID, PasskeyBook


@pytest.fixture
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def challenges(redis_client: redis.Redis, unique_name: str) -> RedisChallengeStore:
    return RedisChallengeStore(redis_client, prefix=unique_name)


@pytest.fixture
def rp(challenges: RedisChallengeStore) -> PasskeyRelyingParty:
    return PasskeyRelyingParty(EXAMPLE_RP_ID, "Cairn", [EXAMPLE_ORIGIN], challenges)


@pytest.fixture
def book() -> PasskeyBook:
    return PasskeyBook()
