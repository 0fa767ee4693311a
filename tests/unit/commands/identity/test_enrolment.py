"""Sign-up and invitations: Given / When / Then, in memory."""

from __future__ import annotations

import pytest

from commands.identity import enrolment
from commands.identity.models import (
    BeginAcceptInvitation,
    BeginSignUp,
    FinishAcceptInvitation,
    FinishSignUp,
    InviteUser,
)
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.unit.commands.scenario import Scenario

pytestmark = pytest.mark.unit


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
    bob = scenario.joined(token)
    then = scenario.when(InviteUser(email="eve@example.com"), scenario.issued(bob))
    then.refused("forbidden")
    then.nothing_recorded()
