"""Bring-your-own model keys: stored encrypted in the vault, never shown again."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import CurrentCaller, ServicesDep
from api.dispatch import Send
from api.models import Accepted
from commands.runs.provider_keys import SetProviderKey, configured_providers

router = APIRouter(prefix="/v1/provider-keys", tags=["runs"])


class ProviderKeySet(Accepted):
    provider: str


class ProvidersOut(BaseModel):
    providers: list[str]


@router.post("", operation_id="setProviderKey", status_code=202, response_model=ProviderKeySet)
def set_provider_key(body: SetProviderKey, send: Send) -> JSONResponse:
    """Store the tenant's key for one model provider (needs `tenant.admin` and the
    `autonomy:write` scope). It changes what plans the runs: without `approval` it is refused
    with 403 `step_up_required` carrying the WebAuthn options bound to exactly this key and
    endpoint. The planner leases the key for each call; it is never returned, logged or put
    in the environment."""
    return send.accepted(body)


@router.get("", operation_id="listProviderKeys", response_model=ProvidersOut)
def list_provider_keys(caller: CurrentCaller, services: ServicesDep) -> ProvidersOut:
    """Which providers the tenant has keys for (never the keys)."""
    vault = services.identity.vault
    return ProvidersOut(
        providers=sorted(p.value for p in configured_providers(vault, caller.tenant_id))
    )
