"""Value objects of a policy decision: its recorded input, the engine's answers, the result.

A `DecisionInput` holds everything a decision depends on, including the clock reading and the
hash of the policy text, so the decision can be recomputed from it alone (`replay`). All models
are frozen and round-trip through JSON unchanged: they are stored in `PolicyDecided` events.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.errors import InvalidInput, NotFound
from domain.identity.capabilities import Capability

_SHA256_HEX = r"^[0-9a-f]{64}$"


class Outcome(StrEnum):
    APPROVE = "APPROVE"
    ESCALATE = "ESCALATE"
    DENY = "DENY"


class Layer(StrEnum):
    """Which policy set a policy belongs to: the household's guardrails or the person's own."""

    HOUSEHOLD = "household"
    PERSON = "person"
    BOTH = "both"  # both layers reached the same outcome and each named policies for it


class Mode(StrEnum):
    """How a step would run. Each step is asked about both modes (see `combine.step_outcome`)."""

    AUTONOMOUS = "autonomous"
    WITH_APPROVAL = "with_approval"


class AutonomyLevel(IntEnum):
    """How much the person lets Cairn do alone. An integer so policies can say `>= 2`."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3


def policy_version(policy_text: str) -> str:
    """sha256 of the exact policy text: the version a decision records and replays against."""
    return hashlib.sha256(policy_text.encode()).hexdigest()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Principal(_Frozen):
    """Who asks: the person, the device the intent came from (None for a schedule), and their
    settings that policies look at."""

    tenant_id: str = Field(min_length=1, max_length=100)
    user_id: str = Field(min_length=1, max_length=100)
    device_id: str | None = Field(default=None, min_length=1, max_length=100)
    autonomy: AutonomyLevel = AutonomyLevel.MEDIUM
    # IANA name; used once, when the clock is read, to record the local time.
    timezone: str = Field(default="UTC", min_length=1, max_length=64)


class ResourceRef(_Frozen):
    """What a step acts on: an entity type of the policy schema and an id (the provider)."""

    type: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    id: str = Field(min_length=1, max_length=200)


class UpstreamTool(_Frozen):
    """An upstream MCP server's tool as the policy sees it (Cedar `McpTool`, decision 0035),
    recorded in the decision so a replay sees what was decided on. The hints are what the
    upstream says of its own tool (MCP annotations, the spec's defaults when it says
    nothing): untrusted, so a policy may narrow with them but should not permit on them."""

    server_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    server_name: str = Field(max_length=100)
    tool: str = Field(min_length=1, max_length=128)
    # "approved", "pending" or "quarantined" as the pins stood when the plan was decided.
    approval: str = Field(pattern=r"^(approved|pending|quarantined)$")
    hash: str = Field(pattern=_SHA256_HEX)  # the tool's text (name, description, schema)
    read_only_hint: bool = False
    destructive_hint: bool = True
    idempotent_hint: bool = False
    open_world_hint: bool = True


class StepInput(_Frozen):
    step_id: str = Field(min_length=1, max_length=10)
    action: str = Field(min_length=1, max_length=200)
    provider: str = Field(min_length=1, max_length=50)
    resource: ResourceRef
    # The capability the catalogue requires for the action, recorded so a later catalogue
    # change cannot change a replayed decision. None for an action outside the catalogue.
    capability: str | None = None
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    # Lowercased, sorted and unique: a forbid on "boss@x.com" must also catch "Boss@X.com".
    recipients: tuple[str, ...] = ()
    upstream: UpstreamTool | None = None  # only for an upstream MCP tool's step

    @field_validator("recipients")
    @classmethod
    def _normalised(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({recipient.strip().lower() for recipient in value}))

    @model_validator(mode="after")
    def _amount_has_currency(self) -> StepInput:
        if (self.amount is None) != (self.currency is None):
            raise ValueError("an amount needs a currency and a currency needs an amount")
        return self

    @property
    def amount_cents(self) -> int | None:
        """The amount in hundredths of the currency unit (exact: at most 2 decimal places)."""
        return None if self.amount is None else int(self.amount * 100)


class DecisionInput(_Frozen):
    """Everything one decision depends on. Nothing else is read while deciding."""

    principal: Principal
    capabilities: tuple[str, ...] = ()
    steps: tuple[StepInput, ...] = Field(min_length=1, max_length=20)
    # The clock was read once, before deciding; both readings are kept so an auditor sees the
    # instant and the wall time the policies saw. Hour and weekday come from `local_time`.
    clock_utc: datetime
    local_time: datetime
    plan_hash: str | None = Field(default=None, pattern=_SHA256_HEX)
    policy_version: str = Field(pattern=_SHA256_HEX)
    schema_version: str = Field(pattern=_SHA256_HEX)
    # The household guardrails' version; None for decisions recorded before the household
    # layer existed, which replay against the person's policies alone, as they were decided.
    household_version: str | None = Field(default=None, pattern=_SHA256_HEX)

    @field_validator("capabilities")
    @classmethod
    def _parsable_sorted_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            Capability.parse(text)  # refuse now what would make `holds` fail during replay
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _clock_is_consistent(self) -> DecisionInput:
        if self.clock_utc.utcoffset() != timedelta(0):
            raise ValueError("clock_utc must be an aware datetime in UTC")
        if self.local_time.utcoffset() is None:
            raise ValueError("local_time must carry its UTC offset")
        if self.local_time != self.clock_utc:
            raise ValueError("local_time and clock_utc must be the same instant")
        ids = [step.step_id for step in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must be unique")
        return self

    @property
    def local_hour(self) -> int:
        return self.local_time.hour

    @property
    def local_weekday(self) -> int:
        """ISO weekday: Monday is 1, Sunday is 7."""
        return self.local_time.isoweekday()


class Verdict(_Frozen):
    """The engine's answer for one step in one mode.

    `policies` are the ids of the satisfied policies that produced the answer: the permits when
    allowed, the forbids when not (empty when nothing permitted: deny by default).
    """

    allowed: bool
    policies: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


class StepDecision(_Frozen):
    step_id: str
    action: str
    outcome: Outcome
    policies: tuple[str, ...]
    denied_by_default: bool
    autonomous: Verdict  # the person's layer
    with_approval: Verdict
    errors: tuple[str, ...] = ()
    # The household layer's answers and which layer decided the step's outcome; None when the
    # decision was made without a household layer (recorded before it existed).
    household_autonomous: Verdict | None = None
    household_with_approval: Verdict | None = None
    decided_by: Layer | None = None


class Decision(_Frozen):
    """The outcome of a plan, the policies that determined it, and the input it came from."""

    outcome: Outcome
    policies: tuple[str, ...]
    # True when the plan is denied only because nothing permitted its denied steps: no forbid
    # matched and no evaluation error occurred.
    denied_by_default: bool
    steps: tuple[StepDecision, ...]
    errors: tuple[str, ...] = ()
    input: DecisionInput
    decided_by: Layer | None = None  # None: decided without a household layer


class PolicyProblem(_Frozen):
    """One reason a policy text is refused. `policy` is its @id when known."""

    policy: str | None
    message: str

    def __str__(self) -> str:
        return self.message if self.policy is None else f"policy {self.policy!r}: {self.message}"


class InvalidPolicies(InvalidInput):
    code = "invalid_policies"

    @classmethod
    def from_problems(cls, problems: list[PolicyProblem]) -> InvalidPolicies:
        listed = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return cls(
            f"the policy text was refused: {listed}{more}",
            {"problems": [p.model_dump() for p in problems]},
        )


class UnknownPolicyVersion(NotFound):
    code = "unknown_policy_version"
