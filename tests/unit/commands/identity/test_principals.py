"""The per-process cache of authenticated sessions: kept for the TTL at most, forgotten on any
change of its session, user or tenant, and never filled by a check that raced a change."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from commands.identity.principals import Principal, PrincipalCache
from commands.ports.sessions import AccessClaims
from domain.identity.credential import SecurityEvent
from domain.identity.user import User

pytestmark = pytest.mark.unit

TENANT = str(uuid.uuid4())
ADA = Principal(uuid.UUID(TENANT), "ada", ("calendar.read",))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def claims(session: str = "s1", user: str = "ada", device: str = "d1") -> AccessClaims:
    return AccessClaims("cairn", "cairn-api", user, TENANT, session, device, 0, 0, "j", 0)


def cached(ttl_s: float = 5.0) -> tuple[PrincipalCache, Clock]:
    clock = Clock()
    cache = PrincipalCache(ttl_s, clock=clock)
    cache.store(cache.ticket(claims()), ADA)
    return cache, clock


def test_an_answer_is_kept_until_the_ttl_from_when_its_check_began() -> None:
    clock = Clock()
    cache = PrincipalCache(5.0, clock=clock)
    ticket = cache.ticket(claims())
    clock.now += 1.0  # the check took a second
    cache.store(ticket, ADA)
    clock.now += 3.9
    assert cache.lookup(claims()) == ADA
    clock.now += 0.1  # 5 s after the check began
    assert cache.lookup(claims()) is None


def test_only_the_same_session_user_and_device_match() -> None:
    cache, _ = cached()
    assert cache.lookup(claims()) == ADA
    assert cache.lookup(claims(session="s2")) is None
    assert cache.lookup(claims(device="d2")) is None
    assert cache.lookup(claims(user="eve")) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.forget_sessions(["s1"]),
        lambda c: c.forget_user("ada"),
        lambda c: c.forget_tenant(TENANT),
        lambda c: c.forget_event(TENANT, "User", "ada"),
        lambda c: c.forget_event(TENANT, "SecurityEvent", str(uuid.uuid4())),
    ],
)
def test_a_change_of_its_session_user_or_tenant_forgets_it(
    change: Callable[[PrincipalCache], None],
) -> None:
    cache, _ = cached()
    change(cache)
    assert cache.lookup(claims()) is None
    cache.store(cache.ticket(claims()), ADA)  # checked again afterwards: kept again
    assert cache.lookup(claims()) == ADA


def test_unrelated_changes_keep_it() -> None:
    cache, _ = cached()
    cache.forget_sessions(["s2"])
    cache.forget_user("eve")
    cache.forget_tenant(str(uuid.uuid4()))
    cache.forget_event(TENANT, "Run", str(uuid.uuid4()))
    cache.forget_event(TENANT, "Tenant", TENANT)
    assert cache.lookup(claims()) == ADA


def test_a_check_that_raced_a_change_is_not_kept() -> None:
    clock = Clock()
    cache = PrincipalCache(5.0, clock=clock)
    ticket = cache.ticket(claims())  # the check reads a live session...
    cache.forget_sessions(["s1"])  # ...while it is revoked
    cache.store(ticket, ADA)
    assert cache.lookup(claims()) is None


def test_a_check_slower_than_the_ttl_is_not_kept() -> None:
    clock = Clock()
    cache = PrincipalCache(5.0, clock=clock)
    ticket = cache.ticket(claims())
    clock.now += 5.0
    cache.store(ticket, ADA)
    assert cache.lookup(claims()) is None


def test_ttl_zero_keeps_nothing() -> None:
    cache, _ = cached(ttl_s=0)
    assert cache.lookup(claims()) is None


def test_pruned_change_counters_never_revive_an_answer() -> None:
    clock = Clock()
    cache = PrincipalCache(5.0, clock=clock)
    cache.store(cache.ticket(claims()), ADA)
    cache.forget_sessions(["s1"])
    clock.now += 2.0
    cache.forget_sessions(f"other{n}" for n in range(2000))  # prunes nothing young enough
    assert cache.lookup(claims()) is None
    clock.now += 10.0
    cache.forget_sessions(f"more{n}" for n in range(2000))  # prunes the old counters
    assert cache.lookup(claims()) is None  # expired by then anyway


def test_forgetting_recorded_events_reads_their_aggregate_and_tenant() -> None:
    cache, _ = cached()
    user = User(uuid.uuid4(), uuid.UUID(TENANT), "n", "e", [])
    cache.forget_recorded(user.collect_events())
    assert cache.lookup(claims()) == ADA  # another user
    fact = SecurityEvent("logout", uuid.UUID(TENANT), None, "d1", "succeeded", {})
    cache.forget_recorded(fact.collect_events())
    assert cache.lookup(claims()) is None


def test_the_oldest_entry_makes_room() -> None:
    clock = Clock()
    cache = PrincipalCache(5.0, max_entries=2, clock=clock)
    for session in ("s1", "s2", "s3"):
        cache.store(cache.ticket(claims(session=session)), ADA)
    assert cache.lookup(claims(session="s1")) is None
    assert cache.lookup(claims(session="s3")) == ADA
