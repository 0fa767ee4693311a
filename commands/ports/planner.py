"""The planner port: turn a person's intent into a proposed `Plan`, with what it cost.

A planner only PROPOSES. Its answer is validated against the action catalogue before anyone
sees it; the policy decides and the executor acts later. Command handlers depend on the types
here; `adapters/llm/` implements them with litellm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from commands.ports.vault import SealedSecret
from domain.errors import DomainError, Unavailable, Unprocessable
from domain.runs.plan import ModelUsage, Plan

# Bring-your-own provider keys


class LlmProvider(StrEnum):
    """Model providers a person can bring a key for. The value is litellm's model prefix."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    AZURE = "azure"
    # An OpenAI-compatible endpoint the person runs (Ollama, llama.cpp server): base URL and
    # model name in the credential; called through litellm's `openai/` route (decision 0023).
    LOCAL = "local"


@dataclass(frozen=True)
class ProviderCredential:
    """One provider's secret, as leased for a single call.

    `api_key` is a `SecretStr`: its repr and str are redacted, so a credential that ends up in a
    log line, a traceback or an error shows `**********`.
    """

    api_key: SecretStr
    # An OpenAI-compatible proxy, a regional endpoint, or the Azure resource endpoint
    # (required for Azure: https://<resource>.openai.azure.com).
    api_base: str | None = None
    # Azure only: the API version of the resource (e.g. "2024-10-21").
    api_version: str | None = None
    # Azure only: model name in the routing table -> the person's deployment name. A model
    # without an entry is called with a deployment of the same name.
    deployments: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


KeyLease = Callable[[LlmProvider], ProviderCredential]
"""Hands out one provider's credential for one call (backed by the vault later)."""


@dataclass(frozen=True)
class ProviderKeys:
    """Which providers a person has keys for, and how to lease one for a call.

    The planner routes only to `providers` and calls `lease` right before each model call, so
    a key is in memory only for that call and is never copied into the process environment.
    """

    providers: frozenset[LlmProvider]
    lease: KeyLease = field(repr=False, compare=False)

    @classmethod
    def of(cls, credentials: Mapping[LlmProvider, ProviderCredential]) -> ProviderKeys:
        """Keys held in memory (tests, development); production leases from the vault."""
        held = dict(credentials)

        def lease(provider: LlmProvider) -> ProviderCredential:
            return held[provider]

        return cls(providers=frozenset(held), lease=lease)


# Routing preferences


class CostPreference(StrEnum):
    CHEAP = "cheap"
    BALANCED = "balanced"
    BEST = "best"


class LatencyNeed(StrEnum):
    FAST = "fast"
    NORMAL = "normal"


@dataclass(frozen=True)
class RoutingPreference:
    """What the person (or the channel) prefers; task complexity is estimated from the intent."""

    cost: CostPreference = CostPreference.BALANCED
    latency: LatencyNeed = LatencyNeed.NORMAL


# Context for the prompt


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    relation: str | None = Field(default=None, max_length=100)


class PlannerTool(BaseModel):
    """An approved tool of one of the person's upstream MCP servers, offered to the planner
    as the action `mcp.<server id>.<tool>` (decision 0035). Its text is the upstream's: data
    for the model, never instructions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str
    server: str
    description: str
    input_schema: dict[str, Any]


class CalendarEntry(BaseModel):
    """An upcoming event of the person's synced calendars: what a step changing or cancelling
    it names (`provider`, `event_id`), and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(min_length=1, max_length=40)
    event_id: str = Field(min_length=1, max_length=1024)
    title: str | None = Field(default=None, max_length=200)
    start: datetime
    end: datetime | None = None


class PlanningContext(BaseModel):
    """What the model needs to know about the person to turn words into parameters.

    Filled by a `ContextProvider` (the context graph later). All of it is data for the prompt,
    never instructions.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    local_time: datetime
    timezone: str
    contacts: tuple[Contact, ...] = ()
    memories: tuple[str, ...] = ()
    # Connected service providers (e.g. "google", "microsoft"): a step's `provider` is chosen
    # among them.
    integrations: tuple[str, ...] = ()
    # The person's approved upstream MCP tools: actions beside the catalogue's.
    tools: tuple[PlannerTool, ...] = ()
    # The person's next events from their synced calendars, soonest first.
    calendar: tuple[CalendarEntry, ...] = ()
    # Which context facts and memories were given (ids, not content): recorded in the run's
    # PlanProposed, so one can tell what the model was told. Never shown to the model.
    given: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _local_time_is_aware(self) -> PlanningContext:
        # "next Tuesday at 2pm" only means something with an offset.
        if self.local_time.utcoffset() is None:
            raise ValueError("local_time must carry a UTC offset")
        return self


@dataclass(frozen=True)
class PlanInputs:
    """What a plan reads before the model is called: its context and, where the context's read
    could carry them, the tenant's sealed secrets of the asked prefix (decision 0056)."""

    context: PlanningContext
    secrets: Mapping[str, SealedSecret] | None = None  # None: not read, ask the vault


class ContextProvider(Protocol):
    def planning_context(
        self, *, tenant_id: UUID, user_id: str, intent_text: str
    ) -> PlanningContext:
        """Context for one intent (the intent lets it pick relevant memories)."""
        ...

    def plan_inputs(
        self, *, tenant_id: UUID, user_id: str, intent_text: str, secrets_prefix: str
    ) -> PlanInputs:
        """`planning_context`, with the tenant's sealed secrets of `secrets_prefix` when the
        context is read from a store that holds them too (one read instead of two)."""
        ...


# Result and failures


@dataclass(frozen=True)
class ProposedPlan:
    plan: Plan
    usage: ModelUsage


class PlannerFailure(DomainError):
    """Base of planner failures; `usage` is what the failed attempts cost, if anything.

    Subclasses also derive from the domain error that gives their HTTP meaning.
    """

    code = "planner_failure"

    def __init__(
        self,
        message: str,
        details: Mapping[str, Any] | None = None,
        *,
        usage: ModelUsage | None = None,
    ) -> None:
        merged = dict(details or {})
        if usage is not None:
            merged["usage"] = usage.model_dump(mode="json")
        super().__init__(message, merged)
        self.usage = usage


class PlanInvalid(PlannerFailure, Unprocessable):
    """The model answered, but not with a valid plan (unknown action, bad parameters, not the
    schema). Nothing of it is executed; the run fails with this reason."""

    code = "plan_invalid"


class PlannerUnavailable(PlannerFailure, Unavailable):
    """No model could be asked or none answered (timeouts, rate limits, provider errors, no
    keys). Trying again later may work."""

    code = "planner_unavailable"


class Planner(Protocol):
    def propose(
        self,
        intent_text: str,
        context: PlanningContext,
        keys: ProviderKeys,
        preference: RoutingPreference,
    ) -> ProposedPlan:
        """A validated plan and its usage, or `PlanInvalid` / `PlannerUnavailable`."""
        ...
