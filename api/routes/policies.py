"""The two layers of Cedar policy (decision 0015): the household's guardrails and each
person's own policies. Read, replace, and dry-run a plan against both."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentCaller, ServicesDep
from api.dispatch import Send
from api.models import Accepted
from commands.runs import policies
from commands.runs.policies import ChangeGuardrails, ChangePolicies
from domain.runs.plan import Plan
from domain.storable import StorableModel

router = APIRouter(prefix="/v1/policies", tags=["policies"])


class LayerOut(BaseModel):
    text: str
    version: str = Field(description="sha256 of the text; recorded in every decision")
    is_default: bool


class PoliciesOut(LayerOut):
    """The caller's own policies, and the household guardrails they are held to."""

    household: LayerOut = Field(
        description="The household guardrails: a forbid there wins over any permit here."
    )


class PoliciesChanged(Accepted):
    policy_version: str = Field(description="The new policies' version (sha256 of the text).")


class EvaluateIn(StorableModel):
    plan: Plan


@router.get("", operation_id="getPolicies", response_model=PoliciesOut)
def get_policies(caller: CurrentCaller, services: ServicesDep) -> PoliciesOut:
    """The caller's policies (the defaults until they change them) and the household
    guardrails that apply on top of them."""
    found = policies.current_policies(caller, services.runs.app, services.runs.policy)
    return PoliciesOut(
        text=found.text,
        version=found.version,
        is_default=found.is_default,
        household=_household(caller, services),
    )


def _household(caller: CurrentCaller, services: ServicesDep) -> LayerOut:
    found = policies.current_guardrails(caller.tenant_id, services.runs.app, services.runs.policy)
    return LayerOut(text=found.text, version=found.version, is_default=found.is_default)


@router.put("", operation_id="putPolicies", status_code=202, response_model=PoliciesChanged)
def put_policies(body: ChangePolicies, send: Send) -> JSONResponse:
    """Replace the caller's policies. The text is validated against the Cedar schema first;
    invalid text is refused with `invalid_policies` and every problem listed. A change that
    does more than add forbid rules is refused with 403 `step_up_required` whose details carry
    the WebAuthn options to sign (`challenge` = `change_hash` + a nonce); send the same text
    again with `approval` = {ceremony_id, credential}. Needs the `autonomy:write` scope."""
    return send.accepted(body)


@router.get("/household", operation_id="getHouseholdGuardrails", response_model=LayerOut)
def get_household(caller: CurrentCaller, services: ServicesDep) -> LayerOut:
    """The household guardrails every member's decisions are held to."""
    return _household(caller, services)


@router.put(
    "/household",
    operation_id="putHouseholdGuardrails",
    status_code=202,
    response_model=PoliciesChanged,
)
def put_household(body: ChangeGuardrails, send: Send) -> JSONResponse:
    """Replace the household guardrails (needs `tenant.admin` and the `autonomy:write` scope):
    forbid rules only, each @id starting with `household.`. Anything but adding rules needs a
    passkey bound to the change, as for `PUT /v1/policies`."""
    return send.accepted(body)


@router.post("/evaluate", operation_id="evaluatePolicies")
def evaluate(body: EvaluateIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Dry run: what would be decided for this plan now (APPROVE, ESCALATE or DENY), which
    policies and which layer (`decided_by`: household, person or both) decided it, and every
    input. Records nothing."""
    decision = policies.dry_run(body.plan, caller, services.runs.app, services.runs.policy)
    return decision.model_dump(mode="json")
