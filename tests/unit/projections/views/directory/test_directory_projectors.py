"""The directory projectors' statements, and the query cursors."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import uuid4

import pytest

from projections.engine.projector_base import Writes
from projections.views.directory.security_events import SecurityEvents
from projections.views.directory.users import DirectoryUsers

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
USER = "domain.identity.user:User."


def _event(**fields: object) -> SimpleNamespace:
    return SimpleNamespace(originator_id=uuid4(), originator_version=3, timestamp=NOW, **fields)


def test_registration_is_normalised_like_the_aggregate_and_has_no_personal_fields() -> None:
    writes = Writes()
    event = _event(
        tenant_id=uuid4(),
        capabilities=["email.send", "calendar.read", "email.send"],
        display_name_sealed="v1.sealed",
        email_sealed="v1.sealed",
    )
    DirectoryUsers(5).handle(USER + "UserRegistered", event, 42, writes)
    ((query, params, bulk),) = writes.statements
    assert query.startswith("INSERT INTO directory_users__g5 ") and not bulk
    assert params == (
        event.tenant_id,
        event.originator_id,
        ["calendar.read", "email.send"],
        NOW,
        NOW,
        3,
        42,
    )
    assert "sealed" not in repr(params)


@pytest.mark.parametrize(
    ("topic", "fields", "fragment"),
    [
        ("CapabilityGranted", {"capability": "a.b", "granted_by": "x"}, 'COLLATE "C"'),
        ("CapabilityRevoked", {"capability": "a.b", "revoked_by": "x"}, "array_remove"),
        ("DeviceRegistered", {"device_id": "d", "name": "n"}, "device_count + 1"),
        ("DeviceRevoked", {"device_id": "d", "reason": "r"}, "device_count - 1"),
        ("PasskeyAdded", {}, "passkey_count + 1"),
        ("PasskeyRemoved", {}, "passkey_count - 1"),
        ("PasskeyUsed", {}, "last_login_at = %s"),
        ("TotpEnabled", {}, "totp_enabled = true"),
        ("UserErased", {}, "erased = true, device_count = 0, passkey_count = 0"),
        ("RecoveryCodesGenerated", {"generation": "g", "count": 10}, "SET updated_at = %s,"),
        ("RecoveryCodeUsed", {"generation": "g", "slot": 1}, "SET updated_at = %s,"),
    ],
)
def test_changes_update_the_users_row_by_id(
    topic: str, fields: dict[str, object], fragment: str
) -> None:
    writes = Writes()
    event = _event(**fields)
    DirectoryUsers(1).handle(USER + topic, event, 99, writes)
    ((query, params, _),) = writes.statements
    assert query.startswith("UPDATE directory_users__g1 SET ") and fragment in query
    assert query.endswith("WHERE user_id = %s")
    assert tuple(params)[-4:] == (NOW, 3, 99, event.originator_id)


def test_security_events_without_a_tenant_belong_to_no_view() -> None:
    writes = Writes()
    topic = "domain.identity.credential:SecurityEvent.SecurityEventRecorded"
    fact: dict[str, object] = {
        "kind": "login",
        "user_id": None,
        "device_id": None,
        "outcome": "refused",
        "details": {},
    }
    SecurityEvents(1).handle(topic, _event(tenant_id=None, **fact), 7, writes)
    assert writes.statements == []
    SecurityEvents(1).handle(topic, _event(tenant_id=uuid4(), **fact), 8, writes)
    ((query, row, bulk),) = writes.statements
    assert bulk and "unnest(" in query and list(row)[1] == 8
