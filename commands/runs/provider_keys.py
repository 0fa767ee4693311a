"""Bring-your-own model keys: kept in the vault, leased for one planner call at a time."""

from __future__ import annotations

import json
from uuid import UUID

from pydantic import SecretStr

from commands.ports.planner import LlmProvider, ProviderCredential, ProviderKeys
from commands.ports.vault import Vault
from domain.errors import NotFound

RECORD_PREFIX = "llm-key:"


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
    found: set[LlmProvider] = set()
    for provider in LlmProvider:
        try:
            vault.get_secret(str(tenant_id), RECORD_PREFIX + provider.value)
        except NotFound:
            continue
        found.add(provider)
    return frozenset(found)
