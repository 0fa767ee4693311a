"""Pending device authorizations in a real Redis: polls never undo a decision, one decision
wins, one exchange, and Redis down is a 503-class error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from adapters.tokens.device_grants import DeviceGrantsUnavailable, RedisDeviceGrants
from commands.ports.device_grants import DeviceGrants
from domain.identity.device_grant import DeviceGrant, DeviceGrantStatus, device_code_hash
from infra.stack.ports import free_port

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
KEEP = timedelta(minutes=20)


@pytest.fixture
def grants(redis_url: str, unique_name: str) -> RedisDeviceGrants:
    return RedisDeviceGrants(redis.Redis.from_url(redis_url), prefix=unique_name)


def test_satisfies_the_port(grants: RedisDeviceGrants) -> None:
    port: DeviceGrants = grants
    assert port is grants


def test_a_grant_is_found_by_its_code_hash_and_by_its_user_code(grants: RedisDeviceGrants) -> None:
    grant = DeviceGrant.request("cairn CLI", NOW, ("api",))
    code_hash = device_code_hash("device-code-1")
    assert grants.create(code_hash, grant, KEEP)
    assert grants.get(code_hash) == grant
    assert grants.find_by_user_code(grant.user_code) == (code_hash, grant)
    # A second grant drawing the same user code is refused (the caller draws again).
    assert not grants.create(device_code_hash("device-code-2"), grant, KEEP)
    assert grants.get(device_code_hash("unknown")) is None


def test_a_poll_that_read_before_the_approval_does_not_undo_it(grants: RedisDeviceGrants) -> None:
    grant = DeviceGrant.request("cairn CLI", NOW)
    code_hash = device_code_hash("device-code-3")
    grants.create(code_hash, grant, KEEP)
    read_by_poll = grants.get(code_hash)
    assert read_by_poll is not None
    assert grants.decide(code_hash, grant.approve("t", "u", "cred", NOW))
    polled, _ = read_by_poll.poll(NOW + timedelta(seconds=5))
    grants.record_poll(code_hash, polled)
    stored = grants.get(code_hash)
    assert stored is not None
    assert stored.status is DeviceGrantStatus.APPROVED and stored.user_id == "u"
    assert stored.last_poll_at == NOW + timedelta(seconds=5)


def test_only_the_first_decision_and_the_first_exchange_count(grants: RedisDeviceGrants) -> None:
    grant = DeviceGrant.request("cairn CLI", NOW)
    code_hash = device_code_hash("device-code-4")
    grants.create(code_hash, grant, KEEP)
    assert grants.decide(code_hash, grant.deny("t", "u", NOW))
    assert not grants.decide(code_hash, grant.approve("t", "u", "cred", NOW))
    stored = grants.get(code_hash)
    assert stored is not None and stored.status is DeviceGrantStatus.DENIED
    assert grants.exchange(code_hash)
    assert not grants.exchange(code_hash)
    assert grants.get(code_hash) is None
    assert grants.find_by_user_code(grant.user_code) is None


def test_redis_down_is_unavailable() -> None:
    down = RedisDeviceGrants(redis.Redis(port=free_port(), socket_connect_timeout=0.5))
    with pytest.raises(DeviceGrantsUnavailable):
        down.get(device_code_hash("x"))
