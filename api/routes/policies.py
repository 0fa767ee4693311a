"""A person's Cedar policies: read, replace, and dry-run a plan against them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentCaller, ServicesDep
from api.idempotency import IdempotencyKey, maybe_once
from commands.runs import policies
from domain.runs.plan import Plan

router = APIRouter(prefix="/v1/policies", tags=["policies"])


class PoliciesOut(BaseModel):
    text: str
    version: str = Field(description="sha256 of the text; recorded in every decision")
    is_default: bool


class PoliciesIn(BaseModel):
    text: str = Field(min_length=1, max_length=200_000)


class PoliciesChanged(BaseModel):
    version: str
    position: int | None


class EvaluateIn(BaseModel):
    plan: Plan


@router.get("", operation_id="getPolicies", response_model=PoliciesOut)
def get_policies(caller: CurrentCaller, services: ServicesDep) -> PoliciesOut:
    """The caller's policies (the tenant defaults until they change them)."""
    found = policies.current_policies(caller, services.runs.app, services.runs.policy)
    return PoliciesOut(text=found.text, version=found.version, is_default=found.is_default)


@router.put("", operation_id="putPolicies", response_model=PoliciesChanged)
def put_policies(
    request: Request,
    body: PoliciesIn,
    caller: CurrentCaller,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Replace the caller's policies. The text is validated against the Cedar schema first;
    invalid text is refused with `invalid_policies` and every problem listed."""

    def handle(_: str) -> dict[str, Any]:
        result = policies.change_policies(
            body.text, caller, services.runs.app, services.runs.policy
        )
        return {"version": result.ids["policy_version"], "position": result.position}

    return maybe_once(request, idempotency_key, body, caller, services, 200, handle)


@router.post("/evaluate", operation_id="evaluatePolicies")
def evaluate(body: EvaluateIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Dry run: what would be decided for this plan now (APPROVE, ESCALATE or DENY), which
    policies decided it, and every input. Records nothing."""
    decision = policies.dry_run(body.plan, caller, services.runs.app, services.runs.policy)
    return decision.model_dump(mode="json")
