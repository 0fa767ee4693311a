"""Bring-your-own model keys: Given / When / Then, in memory. A key decides which model plans
what runs without the person: it is set only with a passkey bound to it (decision 0015)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from commands.ports.planner import LlmProvider
from commands.runs.provider_keys import SetProviderKey, configured_providers
from tests.unit.commands.scenario import Scenario

pytestmark = pytest.mark.unit


def test_an_admin_stores_a_provider_key_with_a_passkey_bound_to_it(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    fields = {"provider": "anthropic", "api_key": "sk-0123456789"}
    command = SetProviderKey.model_validate(fields)
    refused = scenario.when(command, scenario.issued(ada)).refused("step_up_required")
    vault = scenario.ports.identity.vault
    assert configured_providers(vault, ada.tenant_id) == frozenset()
    assert "sk-0123456789" not in str(refused.details)
    approval = scenario.change_approval(ada, refused)
    # Signed for one key, it cannot set another (nor the same one at another endpoint).
    other = {**fields, "api_base": "https://evil.example", "approval": approval}
    scenario.when(SetProviderKey.model_validate(other), scenario.issued(ada)).refused(
        "passkey_plan_mismatch"
    )
    refused = scenario.when(command, scenario.issued(ada)).refused("step_up_required")
    approved = SetProviderKey.model_validate(
        {**fields, "approval": scenario.change_approval(ada, refused)}
    )
    then = scenario.when(approved, scenario.issued(ada))
    # The key stays in the vault; the change is a security event (without the key).
    assert then.events == ["SecurityEvent.SecurityEventRecorded"]
    assert then.result.ids == {"provider": "anthropic"} and then.result.position is not None
    assert configured_providers(vault, ada.tenant_id) == {LlmProvider.ANTHROPIC}


def test_a_member_cannot_store_provider_keys(scenario: Scenario) -> None:
    ada = scenario.signed_up()
    bob = scenario.member(ada)
    command = SetProviderKey(provider=LlmProvider.OPENAI, api_key=SecretStr("sk-0123456789"))
    scenario.when(command, scenario.issued(bob)).refused("forbidden")
    assert configured_providers(scenario.ports.identity.vault, ada.tenant_id) == frozenset()
