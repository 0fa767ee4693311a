"""Bring-your-own model keys: kept in the vault, leased for one planner call at a time."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import Field, SecretStr

from commands.base import Command, CommandResult, Issued
from commands.ports.planner import LlmProvider, ProviderCredential, ProviderKeys
from commands.ports.vault import Vault
from domain.errors import Forbidden
from domain.identity.capabilities import TENANT_ADMIN, holds

if TYPE_CHECKING:
    from commands.dispatch import Ports

RECORD_PREFIX = "llm-key:"


class SetProviderKey(Command):
    """Store the tenant's key for one model provider (replacing any earlier one)."""

    provider: LlmProvider
    api_key: SecretStr = Field(min_length=8, max_length=500)
    api_base: str | None = Field(default=None, max_length=300)
    api_version: str | None = Field(default=None, max_length=50)
    deployments: dict[str, str] = Field(default_factory=dict, max_length=20)


def set_provider_key(command: SetProviderKey, issued: Issued, ports: Ports) -> CommandResult:
    """Kept in the vault only (no event: the key is a secret and records no decision)."""
    caller = issued.signed_in()
    if not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("setting provider keys needs the tenant.admin capability")
    credential = ProviderCredential(
        api_key=command.api_key,
        api_base=command.api_base,
        api_version=command.api_version,
        deployments=command.deployments,
    )
    store_provider_key(ports.identity.vault, caller.tenant_id, command.provider, credential)
    return CommandResult({"provider": command.provider.value})


def store_provider_key(
    vault: Vault, tenant_id: UUID, provider: LlmProvider, credential: ProviderCredential
) -> None:
    record = {
        "api_key": credential.api_key.get_secret_value(),
        "api_base": credential.api_base,
        "api_version": credential.api_version,
        "deployments": dict(credential.deployments),
    }
    vault.put_secret(str(tenant_id), RECORD_PREFIX + provider.value, json.dumps(record).encode())


def leased_keys(vault: Vault, tenant_id: UUID, providers: frozenset[LlmProvider]) -> ProviderKeys:
    """Keys for the providers the tenant configured; each is decrypted only when leased."""

    def lease(provider: LlmProvider) -> ProviderCredential:
        raw = json.loads(vault.get_secret(str(tenant_id), RECORD_PREFIX + provider.value))
        return ProviderCredential(
            api_key=SecretStr(raw["api_key"]),
            api_base=raw.get("api_base"),
            api_version=raw.get("api_version"),
            deployments=raw.get("deployments") or {},
        )

    return ProviderKeys(providers=providers, lease=lease)


def configured_providers(vault: Vault, tenant_id: UUID) -> frozenset[LlmProvider]:
    """The providers the tenant stored a key for: one vault read, no key decrypted."""
    stored = vault.secret_ids(str(tenant_id), RECORD_PREFIX)
    return frozenset(p for p in LlmProvider if RECORD_PREFIX + p.value in stored)
