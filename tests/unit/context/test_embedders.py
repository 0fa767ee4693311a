"""Which embedder serves a tenant: the configured litellm model with the tenant's own key,
the offline model without one (never an error), and a typo refused at start."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import pytest
from pydantic import SecretStr

from commands.context.embedders import TenantEmbedders
from commands.ports.context import OFFLINE_MODEL, Embedded, embedding_provider
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from commands.settings import CairnSettings
from domain.errors import InvalidInput
from tests.unit.commands.fakes import MemoryVault

REMOTE = "openai/text-embedding-3-small"


class FixedEmbedder:
    def __init__(self, model: str, lease: Callable[[], ProviderCredential] | None = None) -> None:
        self.model = model
        self.lease = lease

    def passages(self, texts: Sequence[str]) -> list[Embedded]:
        return [Embedded(self.model, (1.0,)) for _ in texts]

    def query(self, text: str) -> Embedded:
        return Embedded(self.model, (1.0,))


def _choice(vault: MemoryVault, clock: Callable[[], float] = lambda: 0.0) -> TenantEmbedders:
    return TenantEmbedders(
        REMOTE, vault, FixedEmbedder(OFFLINE_MODEL), FixedEmbedder, ttl_s=10, clock=clock
    )


def test_a_tenant_with_the_providers_key_gets_the_configured_model() -> None:
    vault = MemoryVault()
    tenant = uuid.uuid4()
    store_provider_key(vault, tenant, LlmProvider.OPENAI, ProviderCredential(SecretStr("sk-1")))
    embedder = _choice(vault).for_tenant(tenant)
    assert embedder.model == REMOTE
    assert isinstance(embedder, FixedEmbedder) and embedder.lease is not None
    assert embedder.lease().api_key.get_secret_value() == "sk-1"


def test_a_tenant_without_a_key_keeps_the_offline_model() -> None:
    vault = MemoryVault()
    tenant = uuid.uuid4()
    store_provider_key(vault, tenant, LlmProvider.ANTHROPIC, ProviderCredential(SecretStr("a-1")))
    choice = _choice(vault)
    assert choice.model_for(tenant) == OFFLINE_MODEL
    assert choice.for_tenant(tenant).model == OFFLINE_MODEL


def test_a_new_key_is_seen_once_the_cached_answer_is_old() -> None:
    vault = MemoryVault()
    tenant = uuid.uuid4()
    now = [0.0]
    choice = _choice(vault, lambda: now[0])
    assert choice.model_for(tenant) == OFFLINE_MODEL
    store_provider_key(vault, tenant, LlmProvider.OPENAI, ProviderCredential(SecretStr("sk-1")))
    assert choice.model_for(tenant) == OFFLINE_MODEL  # within ttl_s
    now[0] = 11.0
    assert choice.model_for(tenant) == REMOTE


def test_the_setting_defaults_to_the_offline_model_and_refuses_unknown_providers() -> None:
    env = {"CAIRN_NATS_URL": "n", "CAIRN_DATABASE_URL": "d", "CAIRN_REDIS_URL": "r"}
    assert CairnSettings.from_env(env).embedding_model == OFFLINE_MODEL
    chosen = CairnSettings.from_env({**env, "CAIRN_EMBEDDING_MODEL": REMOTE})
    assert chosen.embedding_model == REMOTE
    assert CairnSettings.from_env(chosen.as_env()).embedding_model == REMOTE
    assert embedding_provider(REMOTE) is LlmProvider.OPENAI
    with pytest.raises(InvalidInput):
        CairnSettings.from_env({**env, "CAIRN_EMBEDDING_MODEL": "cohere/embed-v3"})
