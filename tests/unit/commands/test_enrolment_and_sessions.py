"""Sign-up, invitations, login, refresh, step-up and logout: Given / When / Then, in memory."""

from __future__ import annotations

import pytest

from commands.identity import enrolment, login
from commands.identity.models import (
    BeginAcceptInvitation,
    BeginSignUp,
    FinishAcceptInvitation,
    FinishLogin,
    FinishSignUp,
    FinishStepUp,
    InviteUser,
    LogOut,
    RefreshSession,
)
from domain.errors import NotAuthenticated
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.unit.commands.scenario import Person, Scenario

pytestmark = pytest.mark.unit


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()


def _sign_up_command(scenario: Scenario, slug: str) -> FinishSignUp:
    begin = BeginSignUp(tenant_slug=slug, tenant_name="Acme", display_name="Ada", email="a@x.io")
    start = enrolment.begin_sign_up(begin, scenario.ports.identity)
    credential = SoftwareAuthenticator(EXAMPLE_ORIGIN).create(start.options)
    return FinishSignUp(**begin.model_dump(), ceremony_id=start.ceremony_id, credential=credential)


def test_sign_up_records_tenant_admin_and_passkey_in_one_save_and_opens_a_session(
    scenario: Scenario,
) -> None:
    # Given nobody; When a person signs up with a new passkey
    then = scenario.when(_sign_up_command(scenario, "acme"), scenario.issued(command_id="k1"))
    # Then tenant, user, device and passkey index are one atomic save of the new tenant
    first = then.saves[0]
    assert first.events == [
        "Tenant.TenantCreated",
        "User.UserRegistered",
        "User.PasskeyAdded",
        "User.DeviceRegistered",
        "PasskeyCredential.PasskeyCredentialClaimed",
    ]
    result = then.result
    assert first.context is not None
    assert first.context.tenant == result.ids["tenant_id"]
    assert first.context.actor == result.ids["user_id"]
    assert first.context.command_id == "k1"
    assert then.events[-1] == "SecurityEvent.SecurityEventRecorded"
    assert then.context_of("SecurityEvent.SecurityEventRecorded").command_id is None
    assert set(result.credentials) == {"access_token", "refresh_token"}
    assert result.position is not None
    user = scenario.ports.identity.get_user(result.ids["user_id"])
    assert "tenant.admin" in user.capabilities


def test_a_slug_taken_meanwhile_is_a_conflict_and_records_nothing(scenario: Scenario) -> None:
    # Given two sign-ups begun for one slug, and the first finished
    first, second = _sign_up_command(scenario, "race"), _sign_up_command(scenario, "race")
    scenario.dispatch(first, scenario.issued())
    # When the second finishes
    then = scenario.when(second, scenario.issued())
    # Then the store's race is a conflict
    then.refused("conflict")
    then.nothing_recorded()


def test_an_admin_invites_and_the_invited_person_joins_with_the_invited_capabilities(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    # When ada invites bob
    invited = scenario.when(
        InviteUser(email="bob@example.com", capabilities=["email.send"]),
        scenario.issued(ada),
    )
    # Then the invitation is recorded in ada's tenant and its token handed back once
    assert invited.events == ["Tenant.UserInvited", "InvitationIndex.InvitationIndexed"]
    assert invited.context_of("Tenant.UserInvited").tenant == str(ada.tenant_id)
    token = invited.result.credentials["invitation_token"]
    assert token not in repr(invited.result)
    # When bob accepts it with a new passkey
    bob_key = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    begin = BeginAcceptInvitation(invitation_token=token, display_name="Bob")
    start = enrolment.begin_accept_invitation(begin, scenario.ports.identity)
    accepted = scenario.when(
        FinishAcceptInvitation(
            **begin.model_dump(),
            ceremony_id=start.ceremony_id,
            credential=bob_key.create(start.options),
        ),
        scenario.issued(),
    )
    # Then bob is a user of ada's tenant with the invited capability, signed in
    assert "Tenant.InvitationAccepted" in accepted.events
    assert accepted.result.ids["tenant_id"] == str(ada.tenant_id)
    bob = scenario.ports.identity.get_user(accepted.result.ids["user_id"], ada.tenant_id)
    assert "email.send" in bob.capabilities and "tenant.admin" not in bob.capabilities
    assert accepted.context_of("User.UserRegistered").actor == str(bob.id)


def test_only_an_admin_may_invite(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    token = scenario.dispatch(
        InviteUser(email="bob@example.com"), scenario.issued(ada)
    ).credentials["invitation_token"]
    bob = _join(scenario, token)
    then = scenario.when(InviteUser(email="eve@example.com"), scenario.issued(bob))
    then.refused("forbidden")
    then.nothing_recorded()


def _join(scenario: Scenario, token: str) -> Person:
    key = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    begin = BeginAcceptInvitation(invitation_token=token, display_name="Bob")
    start = enrolment.begin_accept_invitation(begin, scenario.ports.identity)
    command = FinishAcceptInvitation(
        **begin.model_dump(), ceremony_id=start.ceremony_id, credential=key.create(start.options)
    )
    return scenario.person(key, scenario.dispatch(command, scenario.issued()))


def test_login_with_the_passkey_registers_the_new_device_and_records_its_use(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    start = login.begin_login(scenario.ports.identity, "192.0.2.1")
    command = FinishLogin(
        ceremony_id=start.ceremony_id,
        credential=ada.authenticator.get(start.options),
        device_name="laptop",
    )
    then = scenario.when(command, scenario.issued())
    assert then.saves[0].events == ["User.DeviceRegistered", "User.PasskeyUsed"]
    assert then.result.ids["user_id"] == ada.user_id
    assert then.result.ids["device_id"] != ada.device_id
    assert then.context_of("User.PasskeyUsed").device == then.result.ids["device_id"]
    assert scenario.memory.login_guard.successes == [ada.user_id]


def test_a_login_with_a_spent_ceremony_is_refused_and_recorded_as_a_security_event(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    start = login.begin_login(scenario.ports.identity, "192.0.2.1")
    command = FinishLogin(
        ceremony_id=start.ceremony_id, credential=ada.authenticator.get(start.options)
    )
    scenario.dispatch(command, scenario.issued())
    then = scenario.when(command, scenario.issued())
    assert isinstance(then.refused("passkey_ceremony_unknown"), NotAuthenticated)
    assert then.events == ["SecurityEvent.SecurityEventRecorded"]
    assert scenario.memory.login_guard.failures == ["192.0.2.1"]


def test_refresh_rotates_and_a_reused_token_ends_the_family(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    rotated = scenario.when(RefreshSession(refresh_token=ada.refresh_token), scenario.issued())
    assert rotated.result.ids == {"session_id": ada.session_id}
    assert rotated.result.credentials["refresh_token"] != ada.refresh_token
    rotated.nothing_recorded()
    reused = scenario.when(RefreshSession(refresh_token=ada.refresh_token), scenario.issued())
    reused.refused("refresh_token_reused")
    assert reused.events == ["SecurityEvent.SecurityEventRecorded"]
    assert reused.context_of("SecurityEvent.SecurityEventRecorded").tenant == str(ada.tenant_id)


def test_step_up_records_the_passkey_use_and_hands_back_a_fresh_token(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    scenario.later(minutes=7)
    start = login.begin_step_up(scenario.caller(ada), scenario.ports.identity)
    command = FinishStepUp(
        ceremony_id=start.ceremony_id, credential=ada.authenticator.get(start.options)
    )
    then = scenario.when(command, scenario.issued(ada))
    assert then.events[0] == "User.PasskeyUsed"
    assert then.context_of("User.PasskeyUsed").actor == ada.user_id
    fresh = scenario.memory.tokens.verify_access_token(then.result.credentials["access_token"])
    assert scenario.memory.tokens.is_fresh(fresh)


def test_logout_ends_the_session_and_records_it(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    then = scenario.when(LogOut(), scenario.issued(ada))
    assert then.result.ids == {"session_id": ada.session_id}
    assert then.events == ["SecurityEvent.SecurityEventRecorded"]
    assert then.result.position is not None
    assert scenario.memory.sessions.sessions[ada.session_id].revoked == "logout"


def test_commands_for_signed_in_people_refuse_anonymous_callers(scenario: Scenario) -> None:
    then = scenario.when(LogOut(), scenario.issued())
    then.refused("not_authenticated")
    then.nothing_recorded()
