"""The planner's fallback and accounting rules, with a fake gateway (no litellm, no I/O).

The same rules run through the real litellm code path in tests/integration/adapters/llm.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr

from adapters.llm.gateway import (
    CompletionAnswer,
    CompletionFailed,
    CompletionRequest,
    CredentialIncomplete,
    FailureKind,
)
from adapters.llm.planner import LiteLLMPlanner, PlannerSettings
from commands.ports.planner import (
    CostPreference,
    LlmProvider,
    PlanInvalid,
    PlannerUnavailable,
    PlanningContext,
    ProviderCredential,
    ProviderKeys,
    RoutingPreference,
)
from domain.errors import InvalidInput

pytestmark = pytest.mark.unit

SECRET = "sk-fake-0b5e2d"
INTENT = "Schedule a meeting with Sarah next Tuesday at 2pm"
CONTEXT = PlanningContext(local_time=datetime(2026, 11, 26, 9, tzinfo=UTC), timezone="UTC")
BALANCED = RoutingPreference()
# simple/balanced/normal with every key: gpt-4.1-mini, azure mini, haiku, flash, ...
FIRST, SECOND, THIRD = "openai/gpt-4.1-mini", "azure/gpt-4.1-mini", "anthropic/claude-haiku-4-5"

PLAN = json.dumps(
    {
        "summary": "Meeting with Sarah",
        "steps": [
            {
                "step_id": "s1",
                "action": "calendar.create_event",
                "provider": "google",
                "parameters": {
                    "title": "Meeting with Sarah",
                    "start": "2026-12-01T14:00:00Z",
                    "end": "2026-12-01T15:00:00Z",
                },
            }
        ],
    }
)

Outcome = str | CompletionFailed | Exception


class FakeGateway:
    def __init__(self, outcomes: dict[str, Outcome]) -> None:
        self.outcomes = outcomes
        self.asked: list[str] = []

    def warm_up(self) -> None:
        pass

    def complete(
        self, request: CompletionRequest, credential: ProviderCredential
    ) -> CompletionAnswer:
        assert credential.api_key.get_secret_value() == SECRET
        self.asked.append(request.candidate.model)
        outcome = self.outcomes.get(request.candidate.model, CompletionFailed(FailureKind.TIMEOUT))
        if isinstance(outcome, Exception):
            raise outcome
        return CompletionAnswer(outcome, 100, 20, Decimal("0.001"), priced=True)


class CountingLease:
    def __init__(self, fail_for: frozenset[LlmProvider] = frozenset()) -> None:
        self.fail_for = fail_for
        self.leased: list[LlmProvider] = []

    def __call__(self, provider: LlmProvider) -> ProviderCredential:
        self.leased.append(provider)
        if provider in self.fail_for:
            raise RuntimeError(f"vault locked; tried key {SECRET}")
        if provider is LlmProvider.AZURE:
            return ProviderCredential(SecretStr(SECRET), api_base="https://x", api_version="v")
        return ProviderCredential(SecretStr(SECRET))


def keys(lease: Callable[[LlmProvider], ProviderCredential] | None = None) -> ProviderKeys:
    return ProviderKeys(providers=frozenset(LlmProvider), lease=lease or CountingLease())


def planner(gateway: FakeGateway, max_attempts: int = 3) -> LiteLLMPlanner:
    return LiteLLMPlanner(gateway, settings=PlannerSettings(max_attempts=max_attempts))


def test_first_valid_answer_wins_and_costs_add_up() -> None:
    gateway = FakeGateway({FIRST: "not json", SECOND: PLAN})
    proposed = planner(gateway).propose(INTENT, CONTEXT, keys(), BALANCED)
    assert gateway.asked == [FIRST, SECOND]
    assert proposed.usage.model == SECOND
    assert proposed.usage.provider == "azure"
    assert proposed.usage.attempts == [f"{FIRST}: invalid_answer (not_json)", f"{SECOND}: ok"]
    assert (proposed.usage.prompt_tokens, proposed.usage.completion_tokens) == (200, 40)
    assert proposed.usage.cost_usd == Decimal("0.002")


def test_only_attempts_that_did_not_answer_are_logged_as_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cairn.planner")
    gateway = FakeGateway({FIRST: "not json", SECOND: PLAN})
    planner(gateway).propose(INTENT, CONTEXT, keys(), BALANCED)
    logged = [r.getMessage() for r in caplog.records if r.name == "cairn.planner"]
    assert len(logged) == 1 and f"model={FIRST} outcome=invalid_answer" in logged[0]


def test_each_attempt_leases_the_key_again() -> None:
    lease = CountingLease()
    gateway = FakeGateway({THIRD: PLAN})
    planner(gateway).propose(INTENT, CONTEXT, keys(lease), BALANCED)
    assert lease.leased == [LlmProvider.OPENAI, LlmProvider.AZURE, LlmProvider.ANTHROPIC]


@pytest.mark.parametrize("kind", list(FailureKind))
def test_every_failed_call_falls_back(kind: FailureKind) -> None:
    gateway = FakeGateway({FIRST: CompletionFailed(kind, 500), SECOND: PLAN})
    proposed = planner(gateway).propose(INTENT, CONTEXT, keys(), BALANCED)
    assert proposed.usage.attempts == [f"{FIRST}: {kind.value}", f"{SECOND}: ok"]
    # Tokens of a call that did not answer are unknown: only the answer counts.
    assert proposed.usage.prompt_tokens == 100


def test_a_failed_lease_falls_back_without_repeating_the_vaults_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = FakeGateway({SECOND: PLAN})
    lease = CountingLease(fail_for=frozenset({LlmProvider.OPENAI}))
    proposed = planner(gateway).propose(INTENT, CONTEXT, keys(lease), BALANCED)
    assert proposed.usage.attempts[0] == f"{FIRST}: key_unavailable"
    assert SECRET not in caplog.text
    assert "RuntimeError" in caplog.text


def test_an_incomplete_credential_falls_back() -> None:
    def lease(provider: LlmProvider) -> ProviderCredential:
        if provider is LlmProvider.AZURE:
            raise CredentialIncomplete("an Azure credential needs api_version")
        return ProviderCredential(SecretStr(SECRET))

    gateway = FakeGateway({FIRST: CompletionFailed(FailureKind.RATE_LIMITED), THIRD: PLAN})
    proposed = planner(gateway).propose(INTENT, CONTEXT, keys(lease), BALANCED)
    assert proposed.usage.attempts[1] == f"{SECOND}: key_unavailable"


def test_an_unknown_action_ends_the_search_at_once() -> None:
    gateway = FakeGateway(
        {FIRST: PLAN.replace("calendar.create_event", "shell.exec"), SECOND: PLAN}
    )
    with pytest.raises(PlanInvalid) as raised:
        planner(gateway).propose(INTENT, CONTEXT, keys(), BALANCED)
    assert gateway.asked == [FIRST]
    assert raised.value.details["reason"] == "unknown_action"
    assert raised.value.details["action"] == "shell.exec"
    assert raised.value.usage is not None
    assert raised.value.usage.cost_usd == Decimal("0.001")


def test_a_long_hostile_action_name_is_quoted_bounded() -> None:
    gateway = FakeGateway({FIRST: PLAN.replace("calendar.create_event", "x" * 5000)})
    with pytest.raises(PlanInvalid) as raised:
        planner(gateway).propose(INTENT, CONTEXT, keys(), BALANCED)
    assert len(raised.value.message) < 300


def test_only_invalid_answers_means_plan_invalid() -> None:
    gateway = FakeGateway({FIRST: "nope", SECOND: "[]", THIRD: "{}"})
    with pytest.raises(PlanInvalid) as raised:
        planner(gateway).propose(INTENT, CONTEXT, keys(), BALANCED)
    assert raised.value.details["reason"] == "no_valid_answer"
    assert len(raised.value.details["problems"]) == 3
    assert raised.value.details["usage"]["prompt_tokens"] == 300


def test_no_answer_at_all_means_unavailable_without_usage() -> None:
    gateway = FakeGateway({})
    with pytest.raises(PlannerUnavailable) as raised:
        planner(gateway).propose(INTENT, CONTEXT, keys(), BALANCED)
    assert raised.value.code == "planner_unavailable"
    assert raised.value.details["attempts"] == [f"{m}: timeout" for m in (FIRST, SECOND, THIRD)]
    assert raised.value.usage is None
    assert "usage" not in raised.value.details


def test_attempts_are_capped() -> None:
    gateway = FakeGateway({})
    with pytest.raises(PlannerUnavailable):
        planner(gateway, max_attempts=2).propose(INTENT, CONTEXT, keys(), BALANCED)
    assert gateway.asked == [FIRST, SECOND]


def test_no_keys_for_the_route_means_unavailable() -> None:
    no_keys = ProviderKeys(providers=frozenset(), lease=CountingLease())
    with pytest.raises(PlannerUnavailable) as raised:
        planner(FakeGateway({})).propose(INTENT, CONTEXT, no_keys, BALANCED)
    assert raised.value.details["reason"] == "no_provider_keys"


def test_routing_uses_the_preference_and_the_keys() -> None:
    only_gemini = ProviderKeys(providers=frozenset({LlmProvider.GEMINI}), lease=CountingLease())
    cheap = RoutingPreference(cost=CostPreference.CHEAP)
    chosen = planner(FakeGateway({})).candidates(INTENT, only_gemini, cheap)
    assert [c.model for c in chosen] == ["gemini/gemini-2.5-flash-lite", "gemini/gemini-2.5-flash"]


@pytest.mark.parametrize("intent", ["", "   ", "x" * 4001])
def test_empty_or_huge_intents_are_refused_before_any_call(intent: str) -> None:
    gateway = FakeGateway({})
    with pytest.raises(InvalidInput):
        planner(gateway).propose(intent, CONTEXT, keys(), BALANCED)
    assert gateway.asked == []
