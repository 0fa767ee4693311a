"""Changing the two layers of policy: Given / When / Then, in memory (decision 0015)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib

import pytest

from adapters.policy.defaults import HOUSEHOLD_DEFAULTS
from commands.identity.bound_changes import ChangeApproval
from commands.runs.policies import (
    ChangeGuardrails,
    ChangePolicies,
    current_guardrails,
    current_policies,
    dry_run,
)
from domain.policy.model import Outcome, policy_version
from domain.runs.policies import PolicySet
from tests.unit.commands.scenario import Person, Scenario, payment

pytestmark = pytest.mark.unit

PERMIT_ALL = '@id("everything") permit (principal, action, resource);\n'
NO_NOTES = '\n@id("no-notes")\nforbid(principal, action == Action::"notes.create", resource);\n'


def _version(scenario: Scenario, person: Person) -> str:
    return current_policies(
        scenario.caller(person), scenario.ports.runs, scenario.ports.policy
    ).version


def test_adding_a_forbid_narrows_and_needs_no_passkey(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    defaults = scenario.ports.policy.default_policies(str(ada.tenant_id))
    adopted = scenario.when(ChangePolicies(text=defaults + NO_NOTES), scenario.issued(ada))
    assert adopted.events == ["PolicySet.PoliciesAdopted", "SecurityEvent.SecurityEventRecorded"]
    assert _version(scenario, ada) == adopted.result.ids["policy_version"]


def test_a_widening_change_is_refused_with_what_to_sign_and_changes_nothing(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    before = _version(scenario, ada)
    then = scenario.when(ChangePolicies(text=PERMIT_ALL), scenario.issued(ada))
    refused = then.refused("step_up_required")
    # What to sign: WebAuthn options whose challenge starts with the hash of the change.
    change_hash = bytes.fromhex(refused.details["change_hash"])
    challenge = refused.details["options"]["challenge"]
    assert challenge == refused.details["challenge"]
    assert _b64(challenge)[:32] == change_hash and len(_b64(challenge)) == 48
    # Only the attempt is recorded (the person's other devices see it), not a change.
    assert then.events == ["SecurityEvent.SecurityEventRecorded"]
    assert _version(scenario, ada) == before


def test_a_passkey_bound_to_the_change_applies_it_once(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    refused = scenario.when(ChangePolicies(text=PERMIT_ALL), scenario.issued(ada)).refused(
        "step_up_required"
    )
    approval = scenario.change_approval(ada, refused)
    applied = scenario.when(
        ChangePolicies(text=PERMIT_ALL, approval=approval), scenario.issued(ada)
    )
    assert applied.events == ["PolicySet.PoliciesAdopted", "SecurityEvent.SecurityEventRecorded"]
    policies: PolicySet = scenario.ports.runs.repository.get(
        PolicySet.create_id(ada.tenant_id, ada.user_id)
    )
    assert policies.text == PERMIT_ALL
    assert _version(scenario, ada) == hashlib.sha256(PERMIT_ALL.encode()).hexdigest()
    # The same assertion again, even for the same text: its ceremony is spent.
    again = scenario.when(ChangePolicies(text=PERMIT_ALL, approval=approval), scenario.issued(ada))
    again.refused("passkey_ceremony_unknown")


def test_an_assertion_for_one_text_cannot_apply_another(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    before = _version(scenario, ada)
    refused = scenario.when(ChangePolicies(text=PERMIT_ALL), scenario.issued(ada)).refused(
        "step_up_required"
    )
    approval = scenario.change_approval(ada, refused)
    other = PERMIT_ALL.replace("everything", "everything-else")
    then = scenario.when(ChangePolicies(text=other, approval=approval), scenario.issued(ada))
    then.refused("passkey_plan_mismatch")
    assert _version(scenario, ada) == before


def test_another_persons_passkey_cannot_approve_a_change(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bob = scenario.member(ada)
    refused = scenario.when(ChangePolicies(text=PERMIT_ALL), scenario.issued(ada)).refused(
        "step_up_required"
    )
    before = _version(scenario, ada)
    # Bob's authenticator signs the challenge anyway (ignoring the allow-list).
    options = {k: v for k, v in refused.details["options"].items() if k != "allowCredentials"}
    approval = ChangeApproval(
        ceremony_id=refused.details["ceremony_id"], credential=bob.authenticator.get(options)
    )
    then = scenario.when(ChangePolicies(text=PERMIT_ALL, approval=approval), scenario.issued(ada))
    then.refused("passkey_credential_unknown")
    assert _version(scenario, ada) == before


def test_members_cannot_change_household_guardrails_and_admins_need_a_passkey(
    scenario: Scenario,
) -> None:
    ada = scenario.signed_up()
    bob = scenario.member(ada)
    lifted = '@id("household.nothing") forbid (principal, action, resource) when { false };\n'
    scenario.when(ChangeGuardrails(text=lifted), scenario.issued(bob)).refused("forbidden")
    refused = scenario.when(ChangeGuardrails(text=lifted), scenario.issued(ada)).refused(
        "step_up_required"
    )
    approval = scenario.change_approval(ada, refused)
    applied = scenario.when(ChangeGuardrails(text=lifted, approval=approval), scenario.issued(ada))
    assert applied.events == [
        "HouseholdGuardrails.GuardrailsAdopted",
        "SecurityEvent.SecurityEventRecorded",
    ]
    found = current_guardrails(ada.tenant_id, scenario.ports.runs, scenario.ports.policy)
    assert (found.text, found.is_default) == (lifted, False)


def test_guardrails_only_forbid_and_name_themselves_household(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    for text in (PERMIT_ALL, '@id("mine") forbid (principal, action, resource);'):
        then = scenario.when(ChangeGuardrails(text=text), scenario.issued(ada))
        assert then.refused("invalid_policies").details["problems"]
    stricter = HOUSEHOLD_DEFAULTS + (
        '@id("household.no-email") forbid (principal, action == Action::"email.send", resource);'
    )
    added = scenario.when(ChangeGuardrails(text=stricter), scenario.issued(ada))
    assert added.events[0] == "HouseholdGuardrails.GuardrailsAdopted"  # narrowing: no passkey


def test_the_household_forbid_wins_over_the_persons_permit_all(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    refused = scenario.when(ChangePolicies(text=PERMIT_ALL), scenario.issued(ada)).refused(
        "step_up_required"
    )
    approval = scenario.change_approval(ada, refused)
    applied = scenario.when(
        ChangePolicies(text=PERMIT_ALL, approval=approval), scenario.issued(ada)
    )
    assert applied.result.ids["policy_version"]
    ports = scenario.ports
    big = dry_run(payment("5000.00"), scenario.caller(ada), ports.runs, ports.policy)
    assert (big.outcome, big.policies, big.decided_by) == (
        Outcome.DENY,
        ("household.payments-hard-cap",),
        "household",
    )
    small = dry_run(payment("20.00"), scenario.caller(ada), ports.runs, ports.policy)
    assert (small.outcome, small.policies, small.decided_by) == (
        Outcome.APPROVE,
        ("everything",),
        "person",
    )


def test_policies_that_do_not_validate_are_refused(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bad = '@id("x")\npermit(principal, action == Action::"shell.exec", resource);'
    then = scenario.when(ChangePolicies(text=bad), scenario.issued(ada))
    assert then.refused("invalid_policies").details["problems"]
    then.nothing_recorded()


def test_a_token_without_the_autonomy_scope_cannot_change_policies(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    # As a delegated client (an MCP client, say) would be signed in: `api` only.
    pair = scenario.memory.sessions.create_session(
        str(ada.tenant_id), ada.user_id, ada.device_id, scopes=("api",)
    )
    issued = dataclasses.replace(
        scenario.issued(ada), claims=scenario.memory.tokens.verify_access_token(pair.access_token)
    )
    defaults = scenario.ports.policy.default_policies(str(ada.tenant_id))
    then = scenario.when(ChangePolicies(text=defaults + NO_NOTES), issued)
    assert then.refused("insufficient_scope").details == {"required_scope": "autonomy:write"}
    then.nothing_recorded()


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_defaults_are_versioned_by_the_hash_of_their_text(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    engine, tenant = scenario.ports.policy, str(ada.tenant_id)
    for _ in range(2):  # the second time from the remembered version
        person = current_policies(scenario.caller(ada), scenario.ports.runs, engine)
        household = current_guardrails(ada.tenant_id, scenario.ports.runs, engine)
        assert person.is_default and household.is_default
        assert person.version == policy_version(engine.default_policies(tenant))
        assert household.version == policy_version(engine.default_household(tenant))
        assert person.version != household.version
