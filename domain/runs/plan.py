"""A plan: the structured steps a model proposed, and the hash that approvals are bound to."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.runs.actions import validate_parameters


class PlanStep(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    step_id: str = Field(pattern=r"^s[0-9]{1,3}$")
    action: str
    provider: str = Field(min_length=1, max_length=50)
    parameters: dict[str, Any]

    @field_validator("parameters")
    @classmethod
    def _known_action_with_valid_parameters(cls, value: dict[str, Any], info: Any) -> Any:
        action = info.data.get("action")
        if action is not None:
            validate_parameters(action, value)
        return value


class Plan(BaseModel):
    """What the model proposed. Validated against the action catalogue on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    summary: str = Field(max_length=500)
    steps: list[PlanStep] = Field(min_length=1, max_length=20)

    def canonical_json(self) -> bytes:
        return json.dumps(
            self.model_dump(mode="json"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()

    def plan_hash(self) -> str:
        """sha256 of the canonical JSON: what an escalation approval is bound to."""
        return hashlib.sha256(self.canonical_json()).hexdigest()


class ModelUsage(BaseModel):
    """Which model proposed the plan, and what it cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    provider: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cost_usd: Decimal = Field(ge=0)
    attempts: list[str] = Field(default_factory=list)
