"""A person's Cedar policies: read, replace, and dry-run a plan against them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentCaller, ServicesDep
from api.dispatch import Send
from api.models import Accepted
from commands.runs import policies
from commands.runs.policies import ChangePolicies
from domain.runs.plan import Plan
from domain.storable import StorableModel

router = APIRouter(prefix="/v1/policies", tags=["policies"])


class PoliciesOut(BaseModel):
    text: str
    version: str = Field(description="sha256 of the text; recorded in every decision")
    is_default: bool


class PoliciesChanged(Accepted):
    policy_version: str = Field(description="The new policies' version (sha256 of the text).")


class EvaluateIn(StorableModel):
    plan: Plan


@router.get("", operation_id="getPolicies", response_model=PoliciesOut)
def get_policies(caller: CurrentCaller, services: ServicesDep) -> PoliciesOut:
    """The caller's policies (the tenant defaults until they change them)."""
    found = policies.current_policies(caller, services.runs.app, services.runs.policy)
    return PoliciesOut(text=found.text, version=found.version, is_default=found.is_default)


@router.put("", operation_id="putPolicies", status_code=202, response_model=PoliciesChanged)
def put_policies(body: ChangePolicies, send: Send) -> JSONResponse:
    """Replace the caller's policies. The text is validated against the Cedar schema first;
    invalid text is refused with `invalid_policies` and every problem listed."""
    return send.accepted(body)


@router.post("/evaluate", operation_id="evaluatePolicies")
def evaluate(body: EvaluateIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Dry run: what would be decided for this plan now (APPROVE, ESCALATE or DENY), which
    policies decided it, and every input. Records nothing."""
    decision = policies.dry_run(body.plan, caller, services.runs.app, services.runs.policy)
    return decision.model_dump(mode="json")
