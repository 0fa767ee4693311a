"""Bring-your-own model keys: Given / When / Then, in memory."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from commands.ports.planner import LlmProvider
from commands.runs.provider_keys import SetProviderKey, configured_providers
from tests.unit.commands.scenario import Scenario

pytestmark = pytest.mark.unit


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
    bob = scenario.member(ada)
    command = SetProviderKey(provider=LlmProvider.OPENAI, api_key=SecretStr("sk-0123456789"))
    scenario.when(command, scenario.issued(bob)).refused("forbidden")
    assert configured_providers(scenario.ports.identity.vault, ada.tenant_id) == frozenset()
