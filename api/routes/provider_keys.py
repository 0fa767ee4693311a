"""Bring-your-own model keys: stored encrypted in the vault, never shown again."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field, SecretStr

from api.auth import CurrentCaller, ServicesDep
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import configured_providers, store_provider_key
from domain.errors import Forbidden
from domain.identity.capabilities import TENANT_ADMIN, holds

router = APIRouter(prefix="/v1/provider-keys", tags=["runs"])


class ProviderKeyIn(BaseModel):
    provider: LlmProvider
    api_key: SecretStr = Field(min_length=8, max_length=500)
    api_base: str | None = Field(default=None, max_length=300)
    api_version: str | None = Field(default=None, max_length=50)
    deployments: dict[str, str] = Field(default_factory=dict, max_length=20)


class ProvidersOut(BaseModel):
    providers: list[str]


@router.post("", operation_id="setProviderKey", response_model=ProvidersOut)
def set_provider_key(
    body: ProviderKeyIn, caller: CurrentCaller, services: ServicesDep
) -> ProvidersOut:
    """Store the tenant's key for one model provider (needs `tenant.admin`). The planner
    leases it for each call; it is never returned, logged or put in the environment."""
    if not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("setting provider keys needs the tenant.admin capability")
    credential = ProviderCredential(
        api_key=body.api_key,
        api_base=body.api_base,
        api_version=body.api_version,
        deployments=body.deployments,
    )
    vault = services.identity.vault
    store_provider_key(vault, caller.tenant_id, body.provider, credential)
    return ProvidersOut(
        providers=sorted(p.value for p in configured_providers(vault, caller.tenant_id))
    )


@router.get("", operation_id="listProviderKeys", response_model=ProvidersOut)
def list_provider_keys(caller: CurrentCaller, services: ServicesDep) -> ProvidersOut:
    """Which providers the tenant has keys for (never the keys)."""
    vault = services.identity.vault
    return ProvidersOut(
        providers=sorted(p.value for p in configured_providers(vault, caller.tenant_id))
    )
