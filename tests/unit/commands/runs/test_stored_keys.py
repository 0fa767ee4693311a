"""A plan's model keys from one vault read (decision 0046): the providers the tenant stored a key
for, each key decrypted only when the planner leases it."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr

from adapters.vault.errors import VaultSecretNotFound
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import (
    configured_providers,
    leased_keys,
    store_provider_key,
    stored_keys,
)
from tests.unit.commands.fakes import MemoryVault

pytestmark = pytest.mark.unit


class WatchedVault(MemoryVault):
    """Counts reads and which secrets were decrypted."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.opened: list[str] = []

    def sealed_secrets(self, tenant: str, prefix: str) -> dict[str, _Watched]:  # type: ignore[override]
        self.reads += 1
        return {
            record_id: _Watched(self, record_id, held.value)
            for record_id, held in super().sealed_secrets(tenant, prefix).items()
        }

    def get_secret(self, tenant: str, record_id: str) -> bytes:
        self.reads += 1
        self.opened.append(record_id)
        return super().get_secret(tenant, record_id)

    def secret_ids(self, tenant: str, prefix: str) -> frozenset[str]:
        self.reads += 1
        return super().secret_ids(tenant, prefix)


class _Watched:
    def __init__(self, vault: WatchedVault, record_id: str, value: bytes) -> None:
        self.vault, self.record_id, self.value = vault, record_id, value

    def open(self) -> bytes:
        self.vault.opened.append(self.record_id)
        return self.value


def credential(key: str, **endpoint: str) -> ProviderCredential:
    return ProviderCredential(api_key=SecretStr(key), **endpoint)  # type: ignore[arg-type]


def stored(vault: MemoryVault, tenant_id: UUID) -> None:
    store_provider_key(vault, tenant_id, LlmProvider.OPENAI, credential("sk-openai-0123"))
    store_provider_key(
        vault,
        tenant_id,
        LlmProvider.LOCAL,
        ProviderCredential(
            api_key=SecretStr(""), api_base="http://127.0.0.1:9", deployments={"default": "m"}
        ),
    )


def test_one_read_names_the_providers_and_only_the_leased_key_is_decrypted() -> None:
    vault, tenant_id, other = WatchedVault(), uuid4(), uuid4()
    stored(vault, tenant_id)
    store_provider_key(vault, other, LlmProvider.ANTHROPIC, credential("sk-of-another"))
    vault.reads = 0
    keys = stored_keys(vault, tenant_id)
    assert keys.providers == {LlmProvider.OPENAI, LlmProvider.LOCAL}
    assert keys.providers == configured_providers(vault, tenant_id)
    vault.reads = 0
    assert vault.opened == []
    leased = keys.lease(LlmProvider.LOCAL)
    assert vault.opened == ["llm-key:local"] and vault.reads == 0
    assert leased.api_base == "http://127.0.0.1:9" and leased.deployments == {"default": "m"}
    # The same credential the two reads (ids, then the key) gave.
    old = leased_keys(vault, tenant_id, configured_providers(vault, tenant_id))
    assert leased == old.lease(LlmProvider.LOCAL)
    assert keys.lease(LlmProvider.OPENAI) == old.lease(LlmProvider.OPENAI)
    assert "sk-openai" not in repr(keys)


def test_a_key_not_in_the_read_is_leased_from_the_vault_itself() -> None:
    vault, tenant_id = WatchedVault(), uuid4()
    keys = stored_keys(vault, tenant_id)
    assert keys.providers == frozenset()
    with pytest.raises(VaultSecretNotFound):
        keys.lease(LlmProvider.GEMINI)
    record = {"api_key": "sk-late-0123", "api_base": None, "api_version": None}
    vault.put_secret(str(tenant_id), "llm-key:gemini", json.dumps(record).encode())
    assert keys.lease(LlmProvider.GEMINI).api_key.get_secret_value() == "sk-late-0123"


def test_keys_another_read_carried_need_no_vault_read() -> None:
    """Decision 0056: the sealed keys the plan's context read carried are the keys."""
    vault, tenant_id = WatchedVault(), uuid4()
    stored(vault, tenant_id)
    carried = vault.sealed_secrets(str(tenant_id), "llm-key:")
    vault.reads = 0
    keys = stored_keys(vault, tenant_id, carried)
    assert vault.reads == 0
    assert keys.providers == {LlmProvider.OPENAI, LlmProvider.LOCAL}
    assert keys.lease(LlmProvider.OPENAI) == stored_keys(vault, tenant_id).lease(LlmProvider.OPENAI)
    # None carried (the context's read could not): the vault is read.
    vault.reads = 0
    assert stored_keys(vault, tenant_id, None).providers == keys.providers
    assert vault.reads == 1
