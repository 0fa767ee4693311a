"""Bring-your-own model keys: kept in the vault, leased for one planner call at a time."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import Field, SecretStr, model_validator

from commands.base import Command, CommandResult, Issued
from commands.identity.bound_changes import (
    ChangeApproval,
    approved,
    change_hash,
    check_may_change_autonomy,
    record_change,
)
from commands.ports.planner import LlmProvider, ProviderCredential, ProviderKeys
from commands.ports.vault import SealedSecret, Vault
from domain.errors import Forbidden, Unavailable
from domain.identity.capabilities import TENANT_ADMIN, holds

if TYPE_CHECKING:
    from commands.dispatch import Ports

RECORD_PREFIX = "llm-key:"


class SetProviderKey(Command):
    """Store the tenant's key for one model provider (replacing any earlier one). It changes
    which model endpoint plans what runs without the person: `approval` must be a passkey
    assertion bound to exactly this key and endpoint (decision 0015)."""

    provider: LlmProvider
    # Optional only for a local model (many need none).
    api_key: SecretStr | None = Field(default=None, min_length=8, max_length=500)
    api_base: str | None = Field(default=None, max_length=300)
    api_version: str | None = Field(default=None, max_length=50)
    deployments: dict[str, str] = Field(default_factory=dict, max_length=20)
    # A local model's name on its server (e.g. "llama3.2"); only for provider `local`.
    model: str | None = Field(default=None, min_length=1, max_length=200)
    approval: ChangeApproval | None = None

    @model_validator(mode="after")
    def _complete(self) -> SetProviderKey:
        local = self.provider is LlmProvider.LOCAL
        if local and (not self.api_base or not self.model):
            raise ValueError("a local model needs api_base (its base URL) and model (its name)")
        if not local and self.api_key is None:
            raise ValueError(f"a {self.provider.value} key needs api_key")
        if not local and self.model is not None:
            raise ValueError("model is for a local model only")
        return self

    def secret(self) -> str:
        return self.api_key.get_secret_value() if self.api_key is not None else ""

    def described(self) -> str:
        """What the passkey approves: the endpoint in full, the key by its hash only."""
        return json.dumps(
            {
                "provider": self.provider.value,
                "api_key_sha256": hashlib.sha256(self.secret().encode()).hexdigest(),
                "api_base": self.api_base,
                "api_version": self.api_version,
                "deployments": self.deployments,
                "model": self.model,
            },
            sort_keys=True,
        )


def set_provider_key(command: SetProviderKey, issued: Issued, ports: Ports) -> CommandResult:
    """Kept in the vault only; the change itself is a security event (without the key)."""
    caller = issued.signed_in()
    if not holds(caller.capabilities, TENANT_ADMIN):
        raise Forbidden("setting provider keys needs the tenant.admin capability")
    check_may_change_autonomy(issued)
    digest = change_hash(
        "provider_key", caller.tenant_id, command.provider.value, None, command.described()
    )
    # The endpoint is checked before a ceremony starts (a refused one is not worth the
    # person's passkey) or, with an approval, once the approval is verified (an approval
    # signed for another change is refused as such first).
    if command.approval is None:
        _check_endpoint(ports, command.api_base)
    approved(issued, ports, "provider_key_change", digest, command.approval, required=True)
    if command.approval is not None:
        _check_endpoint(ports, command.api_base)
    deployments = dict(command.deployments)
    if command.model is not None:
        deployments["default"] = command.model  # the routing table's `local/default`
    credential = ProviderCredential(
        api_key=SecretStr(command.secret()),
        api_base=command.api_base,
        api_version=command.api_version,
        deployments=deployments,
    )
    store_provider_key(ports.identity.vault, caller.tenant_id, command.provider, credential)
    position = record_change(
        issued,
        ports,
        "provider_key_set",
        {"provider": command.provider.value, "change_hash": digest.hex()},
    )
    return CommandResult({"provider": command.provider.value}, position)


def _check_endpoint(ports: Ports, api_base: str | None) -> None:
    """The private-address guard (decision 0023): the server is not an open proxy."""
    if api_base is None:
        return
    guard = ports.identity.model_endpoints
    if guard is None:
        raise Unavailable("model endpoints cannot be checked on this server")
    guard.check(api_base)


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
        return _credential(vault.get_secret(str(tenant_id), RECORD_PREFIX + provider.value))

    return ProviderKeys(providers=providers, lease=lease)


def _credential(stored: bytes) -> ProviderCredential:
    raw = json.loads(stored)
    return ProviderCredential(
        api_key=SecretStr(raw["api_key"]),
        api_base=raw.get("api_base"),
        api_version=raw.get("api_version"),
        deployments=raw.get("deployments") or {},
    )


def stored_keys(
    vault: Vault, tenant_id: UUID, sealed: Mapping[str, SealedSecret] | None = None
) -> ProviderKeys:
    """The providers the tenant stored a key for and their leases, from one vault read (the
    keys as stored), or from `sealed` when another read carried them (decision 0056); each
    key is decrypted only when leased. A key stored after the read is leased from the vault
    itself."""
    if sealed is None:
        sealed = vault.sealed_secrets(str(tenant_id), RECORD_PREFIX)
    providers = frozenset(p for p in LlmProvider if RECORD_PREFIX + p.value in sealed)

    def lease(provider: LlmProvider) -> ProviderCredential:
        found = sealed.get(RECORD_PREFIX + provider.value)
        if found is None:
            return leased_keys(vault, tenant_id, providers).lease(provider)
        return _credential(found.open())

    return ProviderKeys(providers=providers, lease=lease)


def configured_providers(vault: Vault, tenant_id: UUID) -> frozenset[LlmProvider]:
    """The providers the tenant stored a key for: one vault read, no key decrypted."""
    stored = vault.secret_ids(str(tenant_id), RECORD_PREFIX)
    return frozenset(p for p in LlmProvider if RECORD_PREFIX + p.value in stored)
