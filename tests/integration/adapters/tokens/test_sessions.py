from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from adapters.tokens import (
    AccessTokens,
    PostgresSessions,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SessionRevoked,
    TokenKeys,
)
from commands.ports.sessions import AccessClaims, Sessions, TokenPair
from domain.errors import NotAuthenticated, Unavailable
from infra.stack.ports import free_port

pytestmark = pytest.mark.integration

TENANT, OTHER_TENANT = "tenant-a", "tenant-b"


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access_tokens(clock: Clock) -> AccessTokens:
    return AccessTokens(TokenKeys.generate(), clock=clock)


@pytest.fixture
def pool(migrated_database_url: str) -> Iterator[ConnectionPool[Any]]:
    with ConnectionPool(migrated_database_url, min_size=2, max_size=12, open=True) as opened:
        yield opened


@pytest.fixture
def sessions(pool: ConnectionPool[Any], access_tokens: AccessTokens) -> PostgresSessions:
    return PostgresSessions(pool, access_tokens)


def _claims(access_tokens: AccessTokens, pair: TokenPair) -> AccessClaims:
    return access_tokens.verify_access_token(pair.access_token)


def test_satisfies_the_port(sessions: PostgresSessions) -> None:
    port: Sessions = sessions
    assert port is sessions


def test_login_issues_a_working_pair(
    sessions: PostgresSessions, access_tokens: AccessTokens
) -> None:
    access, refresh, session_id = sessions.create_session(TENANT, "user-1", "dev-1")
    claims = access_tokens.verify_access_token(access)
    assert (claims.tenant, claims.user_id, claims.device_id, claims.session_id) == (
        TENANT,
        "user-1",
        "dev-1",
        session_id,
    )
    assert abs(claims.auth_time - time.time()) < 5
    sessions.check_session_active(claims)
    assert refresh.startswith("crt1.")


def test_only_a_hash_of_the_refresh_token_is_stored(
    sessions: PostgresSessions, migrated_database_url: str
) -> None:
    pair = sessions.create_session(TENANT, "user-1", "dev-1")
    secret = pair.refresh_token.rsplit(".", 1)[1]
    with psycopg.connect(migrated_database_url) as conn:
        dump = str(conn.execute("SELECT * FROM refresh_tokens").fetchall())
    assert secret not in dump and pair.refresh_token not in dump


def test_refresh_rotates(sessions: PostgresSessions, access_tokens: AccessTokens) -> None:
    first = sessions.create_session(TENANT, "user-1", "dev-1")
    second = sessions.refresh(first.refresh_token)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    before, after = _claims(access_tokens, first), _claims(access_tokens, second)
    assert after.auth_time == before.auth_time  # a refresh is not a new authentication
    third = sessions.refresh(second.refresh_token)
    sessions.check_session_active(_claims(access_tokens, third))


def test_reuse_revokes_the_whole_family_and_nothing_else(
    sessions: PostgresSessions, access_tokens: AccessTokens
) -> None:
    stolen = sessions.create_session(TENANT, "user-1", "dev-1")
    current = sessions.refresh(stolen.refresh_token)  # the legitimate client moves on
    elsewhere = sessions.create_session(TENANT, "user-1", "dev-2")

    with pytest.raises(RefreshTokenReused) as caught:
        sessions.refresh(stolen.refresh_token)
    assert caught.value.code == "refresh_token_reused"
    assert caught.value.details == {}  # nothing about the family goes back to the caller
    revoked = caught.value.revoked
    assert (revoked.tenant, revoked.user_id, revoked.device_id) == (TENANT, "user-1", "dev-1")
    assert revoked.session_ids == (stolen.session_id,)

    with pytest.raises(RefreshTokenInvalid):
        sessions.refresh(current.refresh_token)
    with pytest.raises(SessionRevoked):
        sessions.check_session_active(_claims(access_tokens, current))
    with pytest.raises(SessionRevoked):
        sessions.check_session_active(_claims(access_tokens, stolen))
    info = sessions.list_sessions(TENANT, "user-1", include_revoked=True)
    assert {(s.session_id, s.revoke_reason) for s in info} == {
        (stolen.session_id, "refresh_token_reused"),
        (elsewhere.session_id, None),
    }
    # Another login of the same user is another family: untouched.
    sessions.check_session_active(_claims(access_tokens, elsewhere))
    sessions.refresh(elsewhere.refresh_token)


def test_concurrent_refresh_of_one_token_has_exactly_one_winner(
    sessions: PostgresSessions,
) -> None:
    pair = sessions.create_session(TENANT, "user-1", "dev-1")
    contenders = 8
    start = threading.Barrier(contenders)
    wins: list[TokenPair] = []
    refusals: list[NotAuthenticated] = []
    unexpected: list[BaseException] = []

    def attempt() -> None:
        start.wait()
        try:
            wins.append(sessions.refresh(pair.refresh_token))
        except NotAuthenticated as exc:
            refusals.append(exc)
        except BaseException as exc:
            unexpected.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert unexpected == []
    assert len(wins) == 1
    assert len(refusals) == contenders - 1
    # A second presentation is reuse by definition: the family ends, winner's pair included.
    assert all(isinstance(exc, RefreshTokenReused) for exc in refusals)
    with pytest.raises(RefreshTokenInvalid):
        sessions.refresh(wins[0].refresh_token)


def test_revoking_a_device_ends_its_sessions_on_the_next_request(
    sessions: PostgresSessions, access_tokens: AccessTokens
) -> None:
    phone_a = sessions.create_session(TENANT, "user-1", "phone")
    phone_b = sessions.create_session(TENANT, "user-2", "phone")
    laptop = sessions.create_session(TENANT, "user-1", "laptop")
    same_id_other_tenant = sessions.create_session(OTHER_TENANT, "user-1", "phone")
    for pair in (phone_a, phone_b):
        sessions.check_session_active(_claims(access_tokens, pair))

    ended = sessions.revoke_device(TENANT, "phone")

    assert ended == sorted([phone_a.session_id, phone_b.session_id])
    for pair in (phone_a, phone_b):
        with pytest.raises(SessionRevoked) as caught:
            sessions.check_session_active(_claims(access_tokens, pair))
        assert caught.value.code == "session_revoked"
        with pytest.raises(RefreshTokenInvalid):
            sessions.refresh(pair.refresh_token)
    sessions.check_session_active(_claims(access_tokens, laptop))
    sessions.check_session_active(_claims(access_tokens, same_id_other_tenant))
    assert sessions.revoke_device(TENANT, "phone") == []


def test_revoke_session_and_user(sessions: PostgresSessions, access_tokens: AccessTokens) -> None:
    one = sessions.create_session(TENANT, "user-1", "dev-1")
    two = sessions.create_session(TENANT, "user-1", "dev-2")
    other_user = sessions.create_session(TENANT, "user-2", "dev-3")
    assert sessions.revoke_session(TENANT, one.session_id) is True
    assert sessions.revoke_session(TENANT, one.session_id) is False
    assert sessions.revoke_session(OTHER_TENANT, two.session_id) is False
    assert sessions.revoke_session(TENANT, "not-a-uuid") is False
    with pytest.raises(SessionRevoked):
        sessions.check_session_active(_claims(access_tokens, one))
    sessions.check_session_active(_claims(access_tokens, two))

    assert sessions.revoke_user(TENANT, "user-1", "capabilities_revoked") == [two.session_id]
    with pytest.raises(SessionRevoked):
        sessions.check_session_active(_claims(access_tokens, two))
    sessions.check_session_active(_claims(access_tokens, other_user))
    reasons = {s.revoke_reason for s in sessions.list_sessions(TENANT, "user-1", True)}
    assert reasons == {"logout", "capabilities_revoked"}
    assert sessions.list_sessions(TENANT, "user-1") == []


def test_claims_must_match_the_session(
    sessions: PostgresSessions, access_tokens: AccessTokens
) -> None:
    claims = _claims(access_tokens, sessions.create_session(TENANT, "user-1", "dev-1"))
    for forged in (
        access_tokens.issue(
            tenant=OTHER_TENANT,
            user_id="user-1",
            session_id=claims.session_id,
            device_id="dev-1",
            auth_time=claims.auth_time,
        ),
        access_tokens.issue(
            tenant=TENANT,
            user_id="user-2",
            session_id=claims.session_id,
            device_id="dev-1",
            auth_time=claims.auth_time,
        ),
        access_tokens.issue(
            tenant=TENANT,
            user_id="user-1",
            session_id="nope",
            device_id="dev-1",
            auth_time=claims.auth_time,
        ),
    ):
        with pytest.raises(SessionRevoked):
            sessions.check_session_active(access_tokens.verify_access_token(forged))


def test_step_up_renews_auth_time_for_the_session(
    sessions: PostgresSessions, access_tokens: AccessTokens, clock: Clock
) -> None:
    pair = sessions.create_session(TENANT, "user-1", "dev-1")
    clock.offset = 600  # ten minutes later: no longer fresh
    stale = _claims(access_tokens, sessions.refresh(pair.refresh_token))
    assert not access_tokens.is_fresh(stale)

    stepped_up = access_tokens.verify_access_token(sessions.step_up(stale))
    assert access_tokens.is_fresh(stepped_up)
    assert stepped_up.session_id == pair.session_id
    assert stepped_up.auth_time > stale.auth_time

    sessions.revoke_session(TENANT, pair.session_id)
    with pytest.raises(SessionRevoked):
        sessions.step_up(stepped_up)


def test_step_up_survives_refresh(
    sessions: PostgresSessions, access_tokens: AccessTokens, clock: Clock
) -> None:
    pair = sessions.create_session(TENANT, "user-1", "dev-1")
    clock.offset = 600
    stepped_up = access_tokens.verify_access_token(sessions.step_up(_claims(access_tokens, pair)))
    refreshed = _claims(access_tokens, sessions.refresh(pair.refresh_token))
    assert refreshed.auth_time == stepped_up.auth_time


def test_expired_refresh_token_is_refused_and_not_spent(
    pool: ConnectionPool[Any], access_tokens: AccessTokens, clock: Clock
) -> None:
    sessions = PostgresSessions(pool, access_tokens, refresh_ttl_s=60)
    pair = sessions.create_session(TENANT, "user-1", "dev-1")
    clock.offset = 61
    with pytest.raises(RefreshTokenInvalid):
        sessions.refresh(pair.refresh_token)
    clock.offset = 0
    sessions.refresh(pair.refresh_token)  # it was not marked used by the refused attempt
    assert sessions.prune_refresh_tokens(TENANT, expired_for_s=0) == 0
    clock.offset = 200
    assert sessions.prune_refresh_tokens(TENANT, expired_for_s=0) == 2


def test_unknown_refresh_tokens_are_refused(sessions: PostgresSessions) -> None:
    pair = sessions.create_session(TENANT, "user-1", "dev-1")
    prefix, tenant_part, secret = pair.refresh_token.split(".")
    moved = ".".join([prefix, "dGVuYW50LWI", secret])  # same secret, tenant-b
    for token in (moved, prefix + "." + tenant_part + "." + "A" * 43, "nonsense"):
        with pytest.raises(RefreshTokenInvalid):
            sessions.refresh(token)


def test_row_level_security_hides_other_tenants(
    sessions: PostgresSessions, migrated_database_url: str, unique_name: str
) -> None:
    sessions.create_session(TENANT, "user-1", "dev-1")
    sessions.create_session(OTHER_TENANT, "user-1", "dev-1")
    role = f"{unique_name}_app"
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        try:
            conn.execute(f'GRANT SELECT ON sessions, refresh_tokens TO "{role}"')
            with conn.transaction():
                conn.execute(f'SET LOCAL ROLE "{role}"')
                unset = conn.execute("SELECT count(*) FROM sessions").fetchone()
                conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (TENANT,))
                seen = conn.execute("SELECT DISTINCT tenant_id FROM sessions").fetchall()
                tokens = conn.execute("SELECT DISTINCT tenant_id FROM refresh_tokens").fetchall()
        finally:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')
    assert unset == (0,)
    assert seen == [(TENANT,)] and tokens == [(TENANT,)]


def test_database_down_is_unavailable(access_tokens: AccessTokens) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=1"
    with ConnectionPool(url, min_size=0, max_size=1, timeout=0.5, open=True) as dead:
        sessions = PostgresSessions(dead, access_tokens)
        with pytest.raises(Unavailable):
            sessions.create_session(TENANT, "user-1", "dev-1")


def test_a_sessions_scopes_are_kept_through_refresh_and_step_up(
    sessions: PostgresSessions, access_tokens: AccessTokens
) -> None:
    delegated = sessions.create_session("tenant-s", "user-1", "cli-1", scopes=("api",))
    first = _claims(access_tokens, delegated)
    assert first.scopes == ("api",)
    refreshed = sessions.refresh(delegated.refresh_token)
    assert _claims(access_tokens, refreshed).scopes == ("api",)
    stepped = sessions.step_up(_claims(access_tokens, refreshed))
    assert access_tokens.verify_access_token(stepped).scopes == ("api",)
    own = sessions.create_session("tenant-s", "user-1", "phone-1")
    assert _claims(access_tokens, own).scopes == ("api", "autonomy:write")
