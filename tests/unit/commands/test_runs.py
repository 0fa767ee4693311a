"""Intents, escalations, cancelling, policies and provider keys: Given / When / Then, in memory."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from commands.identity.models import InviteUser
from commands.ports.planner import LlmProvider
from commands.runs.approvals import ApproveEscalation, CancelRun, DenyEscalation
from commands.runs.intents import SubmitIntent, run_id_for
from commands.runs.policies import ChangePolicies, current_policies
from commands.runs.provider_keys import SetProviderKey, configured_providers
from domain.runs.run import Run, RunStatus
from tests.unit.commands.scenario import Person, Scenario
from tests.unit.commands.test_enrolment_and_sessions import _join

pytestmark = pytest.mark.unit


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()


def _run(scenario: Scenario, run_id: str) -> Run:
    run: object = scenario.ports.runs.repository.get(uuid.UUID(run_id))
    assert isinstance(run, Run)
    return run


def test_an_intent_starts_a_run_named_by_its_command_id(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    then = scenario.when(
        SubmitIntent(text="Pay Bob 20 euros", channel="voice"), scenario.issued(ada, "k1")
    )
    run_id = then.result.ids["run_id"]
    assert run_id == str(run_id_for(ada.tenant_id, "k1"))
    assert then.events == ["Run.IntentSubmitted"]
    context = then.context_of("Run.IntentSubmitted")
    assert (context.tenant, context.actor, context.correlation_id, context.command_id) == (
        str(ada.tenant_id),
        ada.user_id,
        run_id,
        "k1",
    )
    run = _run(scenario, run_id)
    assert (run.status, run.channel, run.user_id) == (RunStatus.SUBMITTED, "voice", ada.user_id)


def test_an_intent_without_an_idempotency_key_is_refused(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    then = scenario.when(SubmitIntent(text="Pay Bob"), scenario.issued(ada))
    then.refused("invalid_input")
    then.nothing_recorded()


def test_an_approval_bound_to_the_plan_approves_the_escalation(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    then = scenario.when(
        ApproveEscalation(**scenario.approval(ada, run_id)), scenario.issued(ada, "k2")
    )
    assert then.events == ["Run.EscalationApproved"]
    assert then.result.ids == {"run_id": run_id}
    assert then.context_of("Run.EscalationApproved").correlation_id == run_id
    assert _run(scenario, run_id).status is RunStatus.APPROVED


def test_a_second_answer_to_an_escalation_is_a_conflict(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    late = scenario.approval(ada, run_id)
    scenario.dispatch(ApproveEscalation(**scenario.approval(ada, run_id)), scenario.issued(ada))
    again = scenario.when(ApproveEscalation(**late), scenario.issued(ada))
    again.refused("conflict")
    again.nothing_recorded()
    deny = scenario.when(DenyEscalation(run_id=run_id), scenario.issued(ada))
    deny.refused("conflict")


def test_an_approval_that_loses_the_race_at_the_store_is_a_conflict(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    first, second = scenario.approval(ada, run_id), scenario.approval(ada, run_id)
    passkeys = scenario.ports.identity.passkeys
    verify = passkeys.finish_plan_approval

    def other_answer_lands_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # The second approval is verified while the first is saved: it read the run before.
        monkeypatch.setattr(passkeys, "finish_plan_approval", verify)
        scenario.dispatch(ApproveEscalation(**first), scenario.issued(ada))
        return verify(*args, **kwargs)

    monkeypatch.setattr(passkeys, "finish_plan_approval", other_answer_lands_meanwhile)
    then = scenario.when(ApproveEscalation(**second), scenario.issued(ada))
    then.refused("conflict")
    assert then.events == ["Run.EscalationApproved"]  # the first one's, only
    assert _run(scenario, run_id).version == 5


def test_an_expired_escalation_cannot_be_approved(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada, expires_in=timedelta(minutes=1))
    approval = scenario.approval(ada, run_id)
    scenario.later(minutes=2)
    then = scenario.when(ApproveEscalation(**approval), scenario.issued(ada))
    then.refused("invalid_transition")
    then.nothing_recorded()


def test_another_persons_run_is_not_found(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    eve = scenario.signed_up("other", "eve@example.com")
    run_id = scenario.escalated_run(ada)
    for command in (DenyEscalation(run_id=run_id), CancelRun(run_id=run_id)):
        then = scenario.when(command, scenario.issued(eve))
        then.refused("not_found")
        then.nothing_recorded()
    scenario.when(CancelRun(run_id="not-a-uuid"), scenario.issued(eve)).refused("not_found")


def test_a_denied_escalation_is_final(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    then = scenario.when(DenyEscalation(run_id=run_id, reason="not now"), scenario.issued(ada))
    assert then.events == ["Run.EscalationDenied"]
    assert _run(scenario, run_id).status is RunStatus.DENIED


def test_a_waiting_run_is_cancelled_once(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    run_id = scenario.escalated_run(ada)
    then = scenario.when(CancelRun(run_id=run_id), scenario.issued(ada))
    assert then.events == ["Run.RunCancelled"]
    again = scenario.when(CancelRun(run_id=run_id), scenario.issued(ada))
    again.refused("invalid_transition")
    again.nothing_recorded()


def test_changed_policies_are_adopted_then_changed(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    defaults = scenario.ports.policy.default_policies(str(ada.tenant_id))
    stricter = (
        defaults
        + '\n@id("no-notes")\nforbid(principal, action == Action::"notes.create", resource);\n'
    )
    adopted = scenario.when(ChangePolicies(text=stricter), scenario.issued(ada))
    assert adopted.events == ["PolicySet.PoliciesAdopted"]
    changed = scenario.when(ChangePolicies(text=defaults), scenario.issued(ada))
    assert changed.events == ["PolicySet.PolicyChanged"]
    now = current_policies(scenario.caller(ada), scenario.ports.runs, scenario.ports.policy)
    assert (now.text, now.version) == (defaults, changed.result.ids["policy_version"])
    assert changed.result.ids["policy_version"] != adopted.result.ids["policy_version"]


def test_policies_that_do_not_validate_are_refused(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bad = '@id("x")\npermit(principal, action == Action::"shell.exec", resource);'
    then = scenario.when(ChangePolicies(text=bad), scenario.issued(ada))
    assert then.refused("invalid_policies").details["problems"]
    then.nothing_recorded()


def _member(scenario: Scenario, admin: Person) -> Person:
    invited = scenario.dispatch(InviteUser(email="bob@example.com"), scenario.issued(admin))
    return _join(scenario, invited.credentials["invitation_token"])


def test_an_admin_stores_a_provider_key_in_the_vault_only(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    command = SetProviderKey(provider=LlmProvider.ANTHROPIC, api_key=SecretStr("sk-0123456789"))
    then = scenario.when(command, scenario.issued(ada))
    then.nothing_recorded()
    assert then.result.ids == {"provider": "anthropic"} and then.result.position is None
    vault = scenario.ports.identity.vault
    assert configured_providers(vault, ada.tenant_id) == {LlmProvider.ANTHROPIC}


def test_a_member_cannot_store_provider_keys(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bob = _member(scenario, ada)
    command = SetProviderKey(provider=LlmProvider.OPENAI, api_key=SecretStr("sk-0123456789"))
    scenario.when(command, scenario.issued(bob)).refused("forbidden")
    assert configured_providers(scenario.ports.identity.vault, ada.tenant_id) == frozenset()
