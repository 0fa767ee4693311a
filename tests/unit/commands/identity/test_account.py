"""One's own account and admins' changes to others': Given / When / Then, in memory."""

from __future__ import annotations

import pytest

from commands.identity import account
from commands.identity.models import (
    ConfirmTotp,
    EnrolTotp,
    EraseUser,
    FinishAddPasskey,
    GrantCapability,
    RemovePasskey,
    RevokeCapability,
    RevokeDevice,
)
from commands.ports.passkeys import b64url
from commands.ports.vault import ERASED
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.unit.commands.fakes import GOOD_TOTP_CODE
from tests.unit.commands.scenario import Person, Scenario

pytestmark = pytest.mark.unit


def _second_passkey(scenario: Scenario, ada: Person) -> tuple[SoftwareAuthenticator, str]:
    key = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    claims = scenario.memory.tokens.verify_access_token(ada.access_token)
    start = account.begin_add_passkey(scenario.caller(ada), claims, scenario.ports.identity)
    command = FinishAddPasskey(
        ceremony_id=start.ceremony_id, credential=key.create(start.options), name="laptop"
    )
    added = scenario.dispatch(command, scenario.issued(ada))
    return key, added.ids["credential_id"]


def test_revoking_a_device_records_it_and_ends_its_sessions(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    then = scenario.when(RevokeDevice(device_id=ada.device_id), scenario.issued(ada, "k1"))
    assert then.events[0] == "User.DeviceRevoked"
    context = then.context_of("User.DeviceRevoked")
    assert (context.tenant, context.actor, context.device) == (
        str(ada.tenant_id),
        ada.user_id,
        ada.device_id,
    )
    assert (context.correlation_id, context.causation_id, context.command_id) == (
        "corr-1",
        "req-1",
        "k1",
    )
    assert then.result.ids == {"device_id": ada.device_id}
    assert scenario.memory.sessions.sessions[ada.session_id].revoked == "device_revoked"


def test_a_stale_session_must_step_up_before_changing_the_account(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    scenario.later(minutes=7)
    then = scenario.when(RevokeDevice(device_id=ada.device_id), scenario.issued(ada))
    then.refused("step_up_required")
    then.nothing_recorded()


def test_a_second_passkey_is_added_and_claimed_once(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    key = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    claims = scenario.memory.tokens.verify_access_token(ada.access_token)
    start = account.begin_add_passkey(scenario.caller(ada), claims, scenario.ports.identity)
    command = FinishAddPasskey(
        ceremony_id=start.ceremony_id, credential=key.create(start.options), name="laptop"
    )
    then = scenario.when(command, scenario.issued(ada))
    assert then.saves[0].events == [
        "User.PasskeyAdded",
        "PasskeyCredential.PasskeyCredentialClaimed",
    ]
    assert then.result.ids == {"credential_id": b64url(key.credentials[0].credential_id)}


def test_removing_a_passkey_releases_it_but_the_last_one_stays(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    _, second = _second_passkey(scenario, ada)
    first = b64url(ada.authenticator.credentials[0].credential_id)
    removed = scenario.when(RemovePasskey(credential_id=first), scenario.issued(ada))
    assert removed.saves[0].events == [
        "User.PasskeyRemoved",
        "PasskeyCredential.PasskeyCredentialReleased",
    ]
    assert scenario.ports.identity.find_credential(first) is None
    last = scenario.when(RemovePasskey(credential_id=second), scenario.issued(ada))
    last.refused("invalid_transition")
    last.nothing_recorded()


def test_an_admin_grants_and_revokes_a_capability(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bob = scenario.member(ada)
    granted = scenario.when(
        GrantCapability(user_id=bob.user_id, capability="payments.up_to:50"),
        scenario.issued(ada),
    )
    assert granted.events[0] == "User.CapabilityGranted"
    assert granted.context_of("User.CapabilityGranted").actor == ada.user_id
    assert "payments.up_to:50" in scenario.ports.identity.get_user(bob.user_id).capabilities
    revoked = scenario.when(
        RevokeCapability(user_id=bob.user_id, capability="payments.up_to:50"),
        scenario.issued(ada),
    )
    assert revoked.events[0] == "User.CapabilityRevoked"
    assert "payments.up_to:50" not in scenario.ports.identity.get_user(bob.user_id).capabilities


def test_a_member_cannot_change_capabilities(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bob = scenario.member(ada)
    then = scenario.when(
        GrantCapability(user_id=bob.user_id, capability="tenant.admin"), scenario.issued(bob)
    )
    then.refused("forbidden")
    then.nothing_recorded()


def test_totp_is_enrolled_pending_and_enabled_only_with_a_right_code(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    enrolled = scenario.when(EnrolTotp(), scenario.issued(ada))
    enrolled.nothing_recorded()
    assert enrolled.result.credentials["secret"] == "JBSWY3DPEHPK3PXP"
    wrong = scenario.when(ConfirmTotp(code="000000"), scenario.issued(ada))
    wrong.refused("not_authenticated")
    wrong.nothing_recorded()
    confirmed = scenario.when(ConfirmTotp(code=GOOD_TOTP_CODE), scenario.issued(ada))
    assert confirmed.events[0] == "User.TotpEnabled"
    assert scenario.ports.identity.get_user(ada.user_id).totp_secret_ref is not None


def test_erasure_shreds_personal_fields_and_ends_every_session(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bob = scenario.member(ada)
    then = scenario.when(EraseUser(user_id=bob.user_id), scenario.issued(ada))
    assert then.events[0] == "User.UserErased"
    user = scenario.ports.identity.get_user(bob.user_id)
    vault = scenario.ports.identity.vault
    assert vault.open_personal(str(ada.tenant_id), user.email_sealed, "email") is ERASED
    assert scenario.memory.sessions.sessions[bob.session_id].revoked == "user erased"


def test_a_member_cannot_erase_someone_else(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bob = scenario.member(ada)
    then = scenario.when(EraseUser(user_id=ada.user_id), scenario.issued(bob))
    then.refused("forbidden")
    then.nothing_recorded()
