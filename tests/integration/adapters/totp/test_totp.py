from __future__ import annotations

import urllib.parse

import pyotp
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.totp import RedisTotp, TotpInvalid, TotpReplayed, TotpUnavailable
from commands.ports.sessions import SecondFactor
from infra.stack.ports import free_port

pytestmark = pytest.mark.integration

T0 = 1_800_000_015.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def second_factor(redis_url: str, unique_name: str, clock: Clock) -> RedisTotp:
    return RedisTotp(redis.Redis.from_url(redis_url), prefix=unique_name, clock=clock)


def test_satisfies_the_port(second_factor: RedisTotp) -> None:
    port: SecondFactor = second_factor
    assert port is second_factor


def test_enrolment_gives_a_secret_and_an_otpauth_uri(second_factor: RedisTotp) -> None:
    enrolment = second_factor.enrol("alice@example.com")
    assert len(enrolment.secret) == 32
    uri = urllib.parse.urlparse(enrolment.provisioning_uri)
    query = urllib.parse.parse_qs(uri.query)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert query["secret"] == [enrolment.secret] and query["issuer"] == ["Cairn"]
    assert second_factor.enrol("alice@example.com").secret != enrolment.secret


def test_a_code_is_accepted_once(second_factor: RedisTotp) -> None:
    secret = second_factor.enrol("alice").secret
    code = pyotp.TOTP(secret).at(T0)
    second_factor.verify("tenant-a", "user-1", secret, code)
    with pytest.raises(TotpReplayed) as caught:
        second_factor.verify("tenant-a", "user-1", secret, code)
    assert caught.value.code == "totp_replayed"


def test_an_earlier_step_is_refused_after_a_later_one(
    second_factor: RedisTotp, clock: Clock
) -> None:
    secret = second_factor.enrol("alice").secret
    totp = pyotp.TOTP(secret)
    second_factor.verify("tenant-a", "user-1", secret, totp.at(T0))
    previous = totp.at(T0 - 30)
    if previous != totp.at(T0):
        with pytest.raises(TotpReplayed):
            second_factor.verify("tenant-a", "user-1", secret, previous)
    clock.now = T0 + 30
    second_factor.verify("tenant-a", "user-1", secret, totp.at(T0 + 30))


def test_replay_memory_is_per_user(second_factor: RedisTotp) -> None:
    secret = second_factor.enrol("shared").secret
    code = pyotp.TOTP(secret).at(T0)
    second_factor.verify("tenant-a", "user-1", secret, code)
    second_factor.verify("tenant-a", "user-2", secret, code)
    second_factor.verify("tenant-b", "user-1", secret, code)


def test_wrong_and_stale_codes_are_refused(second_factor: RedisTotp) -> None:
    secret = second_factor.enrol("alice").secret
    right = pyotp.TOTP(secret).at(T0)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(TotpInvalid) as caught:
        second_factor.verify("tenant-a", "user-1", secret, wrong)
    assert caught.value.code == "totp_invalid"
    other_secret = pyotp.random_base32(32)
    with pytest.raises(TotpInvalid):
        second_factor.verify("tenant-a", "user-1", other_secret, right)
    # A refused code does not use up the step: the right one still works.
    second_factor.verify("tenant-a", "user-1", secret, right)


def test_drift_of_one_step_is_tolerated(second_factor: RedisTotp) -> None:
    secret = second_factor.enrol("alice").secret
    second_factor.verify("tenant-a", "user-1", secret, pyotp.TOTP(secret).at(T0 + 30))


def test_redis_down_refuses(clock: Clock) -> None:
    dead = redis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.2,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    second_factor = RedisTotp(dead, clock=clock)
    secret = pyotp.random_base32(32)
    with pytest.raises(TotpUnavailable):
        second_factor.verify("t", "u", secret, pyotp.TOTP(secret).at(T0))
