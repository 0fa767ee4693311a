"""The Connection aggregate: which events a connect, a scope change, a dead grant and a
disconnect record (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.errors import InvalidTransition
from domain.integrations.connection import Connection, ConnectionStatus

pytestmark = pytest.mark.unit


def _names(connection: Connection) -> list[str]:
    return [type(e).__name__ for e in connection.collect_events()]


def _connection() -> Connection:
    return Connection(
        tenant_id=uuid.uuid4(), person_id="p", provider="google", requested_scopes=["email"]
    )


def test_the_same_account_with_more_scopes_is_a_scope_change_not_a_new_account() -> None:
    connection = _connection()
    connection.connect("pii:v1:x", "key-1", ["email"])
    connection.connect("pii:v1:x", "key-1", ["email"])  # nothing new: nothing recorded
    connection.connect("pii:v1:x", "key-1", ["calendar", "email"])
    connection.connect("pii:v1:y", "key-2", ["email"])
    assert _names(connection) == [
        "ConnectionStarted",
        "AccountConnected",
        "ScopesChanged",
        "AccountConnected",
    ]
    assert connection.scopes == ["email"] and connection.account_key == "key-2"


def test_a_dead_grant_is_recorded_once_and_a_reconnect_revives_it() -> None:
    connection = _connection()
    connection.connect("pii:v1:x", "key-1", ["email"])
    assert connection.require_reauth("invalid_grant") is True
    assert connection.require_reauth("invalid_grant") is False
    connection.refreshed(datetime.now(UTC), True)  # a late refresh does not revive it
    assert connection.status is ConnectionStatus.REAUTH_REQUIRED
    connection.connect("pii:v1:x", "key-1", ["email"])
    assert str(connection.status) == "active"
    assert _names(connection).count("ReauthRequired") == 1


def test_disconnect_twice_is_refused() -> None:
    connection = _connection()
    connection.connect("pii:v1:x", "key-1", ["email"])
    connection.disconnect(revoked_at_provider=True)
    with pytest.raises(InvalidTransition):
        connection.disconnect(revoked_at_provider=True)
    connection.start_again(["email"])
    assert connection.status is ConnectionStatus.PENDING
    assert Connection.create_id("t", "p", "google") == Connection.create_id("t", "p", "google")
