"""Refresh of connected accounts on the real stack against the test OAuth server: the storm
across two processes, dead versus transient, and disconnect (issue 15)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from commands.bootstrap import Services
from commands.integrations.connect import DisconnectAccount
from commands.ports.connections import ConnectionMissing, ReauthNeeded
from commands.ports.vault import ERASED
from commands.settings import CairnSettings
from domain.errors import Unavailable
from domain.integrations.connection import token_subject
from tests.integration.integrations.connections_support import (
    caller,
    connect,
    events_of,
    expire,
    send,
    stored_tokens,
)
from tests.support.oauth_server import TestOAuthServer

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def test_refresh_storm_across_two_processes_asks_the_token_endpoint_once(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    who = caller()
    tenant = str(who.tenant_id)
    connection_id = connect(services, server, who)
    expire(settings.database_url, connection_id)
    env = {**os.environ, **settings.as_env(), "PYTHONPATH": str(ROOT)}
    module = "tests.integration.integrations.connections_storm_process"
    children = [
        subprocess.Popen(
            [sys.executable, "-m", module, tenant, who.user_id, "25"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    answers = [json.loads(child.communicate(timeout=120)[0].splitlines()[-1]) for child in children]

    errors = [e for answer in answers for e in answer["errors"]]
    got = [t for answer in answers for t in answer["tokens"]]
    assert errors == []
    assert len(got) == 50
    assert server.refresh_calls == 1
    assert server.reuse_detected == 0
    valid = {hashlib.sha256(t.encode()).hexdigest() for t in server.valid_access_tokens()}
    assert set(got) <= valid and len(set(got)) == 1
    kept = stored_tokens(services, tenant, connection_id)["refresh_token"]
    assert {kept} == server.live_refresh_tokens()
    assert events_of(services, connection_id).count("TokenRefreshed") == 1


def test_a_503_from_the_token_endpoint_leaves_the_connection_active(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    tokens = services.connections.tokens
    who = caller()
    tenant = str(who.tenant_id)
    connection_id = connect(services, server, who)
    expire(settings.database_url, connection_id)
    server.fail_next(1, 503)

    with pytest.raises(Unavailable) as raised:
        tokens.access_token(tenant, who.user_id, "google")
    assert raised.value.details["retry_after"] >= 1
    # Backing off: the next call does not ask the provider again.
    with pytest.raises(Unavailable):
        tokens.access_token(tenant, who.user_id, "google")
    assert server.refresh_calls == 1

    health = tokens.health(tenant, connection_id)
    assert health is not None and health.status == "active" and health.failures == 1
    assert "ReauthRequired" not in events_of(services, connection_id)
    # The backoff over, the same grant refreshes.
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE connection_tokens SET retry_at = now() - interval '1 second'")
    token = tokens.access_token(tenant, who.user_id, "google")
    assert token.value in server.valid_access_tokens()


def test_invalid_grant_gives_one_reauth_required_and_every_caller_reauth_needed(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    tokens = services.connections.tokens
    who = caller()
    tenant = str(who.tenant_id)
    connection_id = connect(services, server, who)
    expire(settings.database_url, connection_id)
    server.kill_grants()
    raised: list[BaseException] = []

    def call() -> None:
        try:
            tokens.access_token(tenant, who.user_id, "google")
        except BaseException as exc:
            raised.append(exc)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(raised) == 10 and all(isinstance(e, ReauthNeeded) for e in raised)
    assert "connect the account again" in str(raised[0]) or "connect again" in str(raised[0])
    assert server.refresh_calls == 1
    assert events_of(services, connection_id).count("ReauthRequired") == 1
    # The keep-alive's look at a dead connection records nothing twice, and stops.
    assert tokens.keep_alive(tenant, connection_id, timedelta(0)) is False
    assert events_of(services, connection_id).count("ReauthRequired") == 1
    # The person is told once, in their security feed.
    stored = services.identity.app.recorder.select_notifications(start=1, limit=10_000)
    assert sum(b"connection_reauth_required" in n.state for n in stored) == 1


def test_disconnect_revokes_at_the_provider_and_shreds_the_tokens(
    settings: CairnSettings, services: Services, server: TestOAuthServer
) -> None:
    assert services.connections is not None
    tokens = services.connections.tokens
    who = caller()
    tenant = str(who.tenant_id)
    connection_id = connect(services, server, who)
    row = tokens.health(tenant, connection_id)
    assert row is not None
    sealed = row.sealed  # type: ignore[attr-defined]
    assert server.valid_access_tokens()

    send(services, DisconnectAccount(provider="google"), who)

    assert server.revocations == ["refresh_token"]
    assert server.valid_access_tokens() == set()
    assert services.connections.vault.open_personal(tenant, sealed, "oauth_tokens") is ERASED
    assert services.connections.vault.erase_subject(tenant, token_subject(connection_id)) is False
    with pytest.raises(ConnectionMissing):
        tokens.access_token(tenant, who.user_id, "google")
    assert events_of(services, connection_id)[-1] == "AccountDisconnected"
