"""The routing table: which models, in which order, for each preference and set of keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.llm.routing import (
    ALL_ROUTE_KEYS,
    DEFAULT_ROUTES,
    DEFAULT_ROUTING_TABLE,
    CandidateModel,
    RoutingTable,
    TaskComplexity,
    route_name,
)
from commands.ports.planner import CostPreference, LatencyNeed, LlmProvider, RoutingPreference

pytestmark = pytest.mark.unit

ALL_PROVIDERS = frozenset(LlmProvider)
SIMPLE, COMPLEX = TaskComplexity.SIMPLE, TaskComplexity.COMPLEX
CHEAP, BALANCED, BEST = CostPreference.CHEAP, CostPreference.BALANCED, CostPreference.BEST
FAST, NORMAL = LatencyNeed.FAST, LatencyNeed.NORMAL


def first_choice(
    complexity: TaskComplexity,
    cost: CostPreference,
    latency: LatencyNeed,
    providers: frozenset[LlmProvider] = ALL_PROVIDERS,
) -> str:
    chosen = DEFAULT_ROUTING_TABLE.candidates(
        complexity, RoutingPreference(cost=cost, latency=latency), providers
    )
    return chosen[0].model


@pytest.mark.parametrize(
    ("complexity", "cost", "latency", "expected"),
    [
        (SIMPLE, CHEAP, FAST, "gemini/gemini-2.5-flash-lite"),
        (SIMPLE, CHEAP, NORMAL, "gemini/gemini-2.5-flash-lite"),
        (SIMPLE, BALANCED, FAST, "openai/gpt-4.1-mini"),
        (SIMPLE, BALANCED, NORMAL, "openai/gpt-4.1-mini"),
        (SIMPLE, BEST, FAST, "anthropic/claude-haiku-4-5"),
        (SIMPLE, BEST, NORMAL, "openai/gpt-4.1"),
        (COMPLEX, CHEAP, FAST, "gemini/gemini-2.5-flash"),
        (COMPLEX, CHEAP, NORMAL, "gemini/gemini-2.5-flash"),
        (COMPLEX, BALANCED, FAST, "openai/gpt-4.1-mini"),
        (COMPLEX, BALANCED, NORMAL, "openai/gpt-4.1"),
        (COMPLEX, BEST, FAST, "openai/gpt-4.1"),
        (COMPLEX, BEST, NORMAL, "anthropic/claude-sonnet-4-5"),
    ],
)
def test_first_choice_for_every_preference_with_all_keys(
    complexity: TaskComplexity, cost: CostPreference, latency: LatencyNeed, expected: str
) -> None:
    assert first_choice(complexity, cost, latency) == expected


@pytest.mark.parametrize(
    ("providers", "complexity", "cost", "latency", "expected"),
    [
        ({LlmProvider.ANTHROPIC}, SIMPLE, CHEAP, FAST, "anthropic/claude-haiku-4-5"),
        ({LlmProvider.ANTHROPIC}, COMPLEX, BEST, NORMAL, "anthropic/claude-sonnet-4-5"),
        ({LlmProvider.AZURE}, SIMPLE, BALANCED, NORMAL, "azure/gpt-4.1-mini"),
        ({LlmProvider.AZURE}, COMPLEX, BALANCED, NORMAL, "azure/gpt-4.1"),
        ({LlmProvider.GEMINI}, COMPLEX, BEST, NORMAL, "gemini/gemini-2.5-pro"),
        ({LlmProvider.GEMINI}, COMPLEX, BEST, FAST, "gemini/gemini-2.5-flash"),
        ({LlmProvider.OPENAI}, SIMPLE, CHEAP, FAST, "openai/gpt-4.1-mini"),
    ],
)
def test_only_providers_with_keys_are_chosen(
    providers: set[LlmProvider],
    complexity: TaskComplexity,
    cost: CostPreference,
    latency: LatencyNeed,
    expected: str,
) -> None:
    assert first_choice(complexity, cost, latency, frozenset(providers)) == expected


def test_fast_routes_never_use_a_thinking_model() -> None:
    for key in ALL_ROUTE_KEYS:
        if key[2] is FAST:
            models = [c.model for c in DEFAULT_ROUTING_TABLE.routes[key]]
            assert "gemini/gemini-2.5-pro" not in models, route_name(key)


def test_cheap_routes_never_start_with_a_large_model() -> None:
    large = {"openai/gpt-4.1", "azure/gpt-4.1", "anthropic/claude-sonnet-4-5"}
    for key in ALL_ROUTE_KEYS:
        if key[1] is CHEAP:
            assert DEFAULT_ROUTING_TABLE.routes[key][0].model not in large, route_name(key)


def test_every_default_row_covers_every_provider() -> None:
    for key in ALL_ROUTE_KEYS:
        providers = {candidate.provider for candidate in DEFAULT_ROUTING_TABLE.routes[key]}
        assert providers == set(LlmProvider), route_name(key)


def test_no_keys_no_candidates() -> None:
    assert DEFAULT_ROUTING_TABLE.candidates(SIMPLE, RoutingPreference(), frozenset()) == ()


@given(
    key=st.sampled_from(ALL_ROUTE_KEYS),
    providers=st.frozensets(st.sampled_from(list(LlmProvider))),
)
def test_candidates_are_the_row_filtered_by_keys_in_order(
    key: tuple[TaskComplexity, CostPreference, LatencyNeed], providers: frozenset[LlmProvider]
) -> None:
    complexity, cost, latency = key
    chosen = DEFAULT_ROUTING_TABLE.candidates(
        complexity, RoutingPreference(cost=cost, latency=latency), providers
    )
    row = DEFAULT_ROUTING_TABLE.routes[key]
    assert list(chosen) == [candidate for candidate in row if candidate.provider in providers]
    assert bool(chosen) == bool(providers)


def test_config_round_trip() -> None:
    assert RoutingTable.from_config(DEFAULT_ROUTING_TABLE.to_config()) == DEFAULT_ROUTING_TABLE
    assert DEFAULT_ROUTING_TABLE.to_config() == DEFAULT_ROUTES


def test_a_configured_table_replaces_the_default() -> None:
    config = {route_name(key): ["openai/my-finetune"] for key in ALL_ROUTE_KEYS}
    table = RoutingTable.from_config(config)
    chosen = table.candidates(COMPLEX, RoutingPreference(), {LlmProvider.OPENAI})
    assert [c.model for c in chosen] == ["openai/my-finetune"]


def test_a_table_must_fill_every_route() -> None:
    config = dict(DEFAULT_ROUTES)
    del config["complex/best/fast"]
    config["simple/cheap/fast"] = []
    with pytest.raises(ValueError, match="complex/best/fast") as raised:
        RoutingTable.from_config(config)
    assert "simple/cheap/fast" in str(raised.value)


def test_unknown_route_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown routes"):
        RoutingTable.from_config({**DEFAULT_ROUTES, "simple/free/fast": ["openai/gpt-4.1"]})


@pytest.mark.parametrize("model", ["gpt-4.1", "mistral/large", "openai/", "/gpt-4.1"])
def test_models_must_name_a_supported_provider(model: str) -> None:
    with pytest.raises(ValueError, match="provider"):
        CandidateModel(model)


def test_candidate_model_parts() -> None:
    candidate = CandidateModel("azure/gpt-4.1-mini")
    assert candidate.provider is LlmProvider.AZURE
    assert candidate.name == "gpt-4.1-mini"
