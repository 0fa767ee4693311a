"""Which models to ask, in which order: a table keyed by complexity, cost and latency.

The table is data, so a deployment can replace it (`RoutingTable.from_config`). Every row of
the default table names a model of each provider, so a person with a key for only one provider
still gets a candidate; the planner keeps only the providers the person has keys for and asks
them in the row's order, falling back to the next on failure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import product
from types import MappingProxyType

from commands.ports.planner import CostPreference, LatencyNeed, LlmProvider, RoutingPreference


class TaskComplexity(StrEnum):
    SIMPLE = "simple"
    COMPLEX = "complex"


@dataclass(frozen=True)
class CandidateModel:
    """A model in litellm's naming, `<provider>/<model>` (for Azure the model is the default
    deployment name; a person's credential may map it to their own deployment)."""

    model: str

    def __post_init__(self) -> None:
        prefix, _, name = self.model.partition("/")
        if not name or prefix not in {p.value for p in LlmProvider}:
            raise ValueError(
                f"model {self.model!r} must be '<provider>/<name>' with provider one of "
                + ", ".join(p.value for p in LlmProvider)
            )

    @property
    def provider(self) -> LlmProvider:
        return LlmProvider(self.model.partition("/")[0])

    @property
    def name(self) -> str:
        return self.model.partition("/")[2]


RouteKey = tuple[TaskComplexity, CostPreference, LatencyNeed]

ALL_ROUTE_KEYS: tuple[RouteKey, ...] = tuple(product(TaskComplexity, CostPreference, LatencyNeed))


def route_name(key: RouteKey) -> str:
    """The key as written in configuration: 'simple/cheap/fast'."""
    return "/".join(part.value for part in key)


@dataclass(frozen=True)
class RoutingTable:
    routes: Mapping[RouteKey, tuple[CandidateModel, ...]]

    def __post_init__(self) -> None:
        missing = [route_name(key) for key in ALL_ROUTE_KEYS if not self.routes.get(key)]
        if missing:
            raise ValueError(f"routing table has no models for: {', '.join(missing)}")
        object.__setattr__(self, "routes", MappingProxyType(dict(self.routes)))

    @classmethod
    def from_config(cls, config: Mapping[str, Sequence[str]]) -> RoutingTable:
        """From `{"simple/cheap/fast": ["gemini/gemini-2.5-flash-lite", ...], ...}`."""
        by_name = {route_name(key): key for key in ALL_ROUTE_KEYS}
        unknown = sorted(set(config) - set(by_name))
        if unknown:
            raise ValueError(f"unknown routes {unknown}; routes are {sorted(by_name)}")
        return cls(
            {
                by_name[name]: tuple(CandidateModel(model) for model in models)
                for name, models in config.items()
            }
        )

    def to_config(self) -> dict[str, list[str]]:
        return {
            route_name(key): [candidate.model for candidate in self.routes[key]]
            for key in ALL_ROUTE_KEYS
        }

    def candidates(
        self,
        complexity: TaskComplexity,
        preference: RoutingPreference,
        available: Collection[LlmProvider],
    ) -> tuple[CandidateModel, ...]:
        """The row's models whose provider the person has a key for, in the row's order."""
        row = self.routes[(complexity, preference.cost, preference.latency)]
        return tuple(candidate for candidate in row if candidate.provider in available)


# Models of the default table, grouped by what they are good for. Prices per million tokens
# (input/output) from litellm's bundled price list, for the reasoning behind the order.
_GEMINI_FLASH_LITE = "gemini/gemini-2.5-flash-lite"  # 0.10 / 0.40, fastest
_GPT_MINI = "openai/gpt-4.1-mini"  # 0.40 / 1.60
_AZURE_GPT_MINI = "azure/gpt-4.1-mini"  # 0.40 / 1.60
_GEMINI_FLASH = "gemini/gemini-2.5-flash"  # 0.30 / 2.50
_CLAUDE_HAIKU = "anthropic/claude-haiku-4-5"  # 1.00 / 5.00
_GPT = "openai/gpt-4.1"  # 2.00 / 8.00
_AZURE_GPT = "azure/gpt-4.1"  # 2.00 / 8.00
_GEMINI_PRO = "gemini/gemini-2.5-pro"  # 1.25 / 10.00, slow (thinks first)
_CLAUDE_SONNET = "anthropic/claude-sonnet-4-5"  # 3.00 / 15.00

# cheap: small models first. best: strongest first. fast: no thinking models, quickest first.
# complex: a capable model first unless the person asked for cheap.
DEFAULT_ROUTES: dict[str, list[str]] = {
    "simple/cheap/fast": [_GEMINI_FLASH_LITE, _GPT_MINI, _AZURE_GPT_MINI, _CLAUDE_HAIKU],
    "simple/cheap/normal": [
        _GEMINI_FLASH_LITE,
        _GPT_MINI,
        _AZURE_GPT_MINI,
        _GEMINI_FLASH,
        _CLAUDE_HAIKU,
    ],
    "simple/balanced/fast": [_GPT_MINI, _AZURE_GPT_MINI, _GEMINI_FLASH, _CLAUDE_HAIKU],
    "simple/balanced/normal": [
        _GPT_MINI,
        _AZURE_GPT_MINI,
        _CLAUDE_HAIKU,
        _GEMINI_FLASH,
        _GPT,
        _AZURE_GPT,
    ],
    "simple/best/fast": [_CLAUDE_HAIKU, _GPT_MINI, _AZURE_GPT_MINI, _GEMINI_FLASH, _GPT],
    "simple/best/normal": [_GPT, _AZURE_GPT, _CLAUDE_SONNET, _GEMINI_PRO, _GPT_MINI],
    "complex/cheap/fast": [_GEMINI_FLASH, _GPT_MINI, _AZURE_GPT_MINI, _CLAUDE_HAIKU],
    "complex/cheap/normal": [_GEMINI_FLASH, _GPT_MINI, _AZURE_GPT_MINI, _CLAUDE_HAIKU, _GPT],
    "complex/balanced/fast": [_GPT_MINI, _AZURE_GPT_MINI, _CLAUDE_HAIKU, _GEMINI_FLASH, _GPT],
    "complex/balanced/normal": [_GPT, _AZURE_GPT, _CLAUDE_SONNET, _GEMINI_PRO, _GPT_MINI],
    "complex/best/fast": [_GPT, _AZURE_GPT, _CLAUDE_HAIKU, _GEMINI_FLASH],
    "complex/best/normal": [_CLAUDE_SONNET, _GPT, _AZURE_GPT, _GEMINI_PRO],
}

# The person's own OpenAI-compatible model ("use a local model"): last in every row, so it
# plans when it is the only endpoint and is the fallback otherwise (its credential names the
# real model; decision 0023).
LOCAL_MODEL = "local/default"
DEFAULT_ROUTES = {route: [*models, LOCAL_MODEL] for route, models in DEFAULT_ROUTES.items()}

DEFAULT_ROUTING_TABLE = RoutingTable.from_config(DEFAULT_ROUTES)
