"""Given/When/Then tests of the User aggregate: no I/O."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from domain.identity.user import User

pytestmark = pytest.mark.unit


def given_user(*capabilities: str) -> User:
    user_id = uuid4()
    user = User(user_id, uuid4(), "sealed-name", "sealed-email", list(capabilities))
    assert user.id == user_id
    return user


def event_names(user: User) -> list[str]:
    return [type(e).__name__ for e in user.collect_events()]


def test_registration_records_one_event_with_normalised_capabilities() -> None:
    user = given_user("email.send", "calendar.write", "email.send")
    assert user.capabilities == ["calendar.write", "email.send"]
    assert event_names(user) == ["UserRegistered"]


def test_grant_and_revoke_are_events_and_regrant_is_a_no_op() -> None:
    user = given_user()
    user.collect_events()
    user.grant("payments.up_to:50", "admin")
    user.grant("payments.up_to:50", "admin")
    user.revoke("payments.up_to:50", "admin")
    assert event_names(user) == ["CapabilityGranted", "CapabilityRevoked"]
    assert user.capabilities == []


def test_revoking_what_is_not_held_is_not_found() -> None:
    with pytest.raises(NotFound):
        given_user().revoke("calendar.write", "admin")


def test_bad_capability_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        given_user().grant("Not A Capability", "admin")


def test_passkeys_duplicate_refused_last_one_kept() -> None:
    user = given_user()
    user.add_passkey("cred-1", "pk", 0, "aaguid", True, "phone")
    with pytest.raises(Conflict):
        user.add_passkey("cred-1", "pk", 0, "aaguid", True, "phone")
    with pytest.raises(InvalidTransition):
        user.remove_passkey("cred-1")
    user.add_passkey("cred-2", "pk2", 0, "aaguid", False, "laptop")
    user.remove_passkey("cred-1")
    assert list(user.passkeys) == ["cred-2"]


def test_revoked_device_cannot_be_revoked_again() -> None:
    user = given_user()
    user.register_device("dev-1", "glasses")
    user.revoke_device("dev-1", "lost")
    with pytest.raises(InvalidTransition):
        user.revoke_device("dev-1", "lost")
    with pytest.raises(NotFound):
        user.revoke_device("dev-2", "unknown")


def test_erased_user_accepts_no_more_changes_and_replays_to_the_same_state() -> None:
    user = given_user("calendar.write")
    user.add_passkey("cred-1", "pk", 0, "aaguid", True, "phone")
    user.register_device("dev-1", "phone")
    user.erase("user")
    with pytest.raises(InvalidTransition):
        user.grant("email.send", "admin")
    events = user.collect_events()
    replayed: User | None = None
    for domain_event in events:
        replayed = domain_event.mutate(replayed)
    assert replayed is not None
    assert replayed.erased and replayed.passkeys == {}
    assert replayed.devices == user.devices
