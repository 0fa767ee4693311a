"""Bring-your-own keys: what reaches litellm per call, and what a repr shows."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from pydantic import SecretStr, ValidationError

from adapters.llm.gateway import CredentialIncomplete, credential_kwargs
from adapters.llm.routing import CandidateModel
from commands.ports.planner import LlmProvider, PlanningContext, ProviderCredential, ProviderKeys

pytestmark = pytest.mark.unit

SECRET = "sk-unit-3f9c1a7e"


def credential(**fields: object) -> ProviderCredential:
    return ProviderCredential(api_key=SecretStr(SECRET), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "model", ["openai/gpt-4.1-mini", "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"]
)
def test_the_key_is_passed_as_api_key(model: str) -> None:
    assert credential_kwargs(CandidateModel(model), credential()) == {
        "model": model,
        "api_key": SECRET,
    }


def test_an_api_base_override_is_passed() -> None:
    kwargs = credential_kwargs(
        CandidateModel("openai/gpt-4.1"), credential(api_base="http://127.0.0.1:9/v1")
    )
    assert kwargs["api_base"] == "http://127.0.0.1:9/v1"


def test_azure_gets_endpoint_version_and_the_persons_deployment() -> None:
    azure = credential(
        api_base="https://me.openai.azure.com",
        api_version="2024-10-21",
        deployments=MappingProxyType({"gpt-4.1-mini": "my-mini"}),
    )
    assert credential_kwargs(CandidateModel("azure/gpt-4.1-mini"), azure) == {
        "model": "azure/my-mini",
        "api_key": SECRET,
        "api_base": "https://me.openai.azure.com",
        "api_version": "2024-10-21",
    }
    # A model without a mapping is called with a deployment of its own name.
    assert credential_kwargs(CandidateModel("azure/gpt-4.1"), azure)["model"] == "azure/gpt-4.1"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [({"api_version": "2024-10-21"}, "api_base"), ({"api_base": "https://x"}, "api_version")],
)
def test_azure_needs_endpoint_and_version(fields: dict[str, str], missing: str) -> None:
    with pytest.raises(CredentialIncomplete, match=missing) as raised:
        credential_kwargs(CandidateModel("azure/gpt-4.1"), credential(**fields))
    assert SECRET not in str(raised.value)


def test_reprs_never_show_the_secret() -> None:
    held = credential(api_base="https://x")
    keys = ProviderKeys.of({LlmProvider.OPENAI: held})
    for text in (repr(held), str(held), repr(keys), str(keys), f"{held.api_key}"):
        assert SECRET not in text
    assert "**********" in repr(held)


def test_keys_of_leases_each_providers_credential() -> None:
    openai, gemini = credential(), credential(api_base="https://g")
    keys = ProviderKeys.of({LlmProvider.OPENAI: openai, LlmProvider.GEMINI: gemini})
    assert keys.providers == {LlmProvider.OPENAI, LlmProvider.GEMINI}
    assert keys.lease(LlmProvider.GEMINI) is gemini
    with pytest.raises(KeyError):
        keys.lease(LlmProvider.AZURE)


def test_planning_context_needs_a_real_timezone_and_an_aware_time() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        PlanningContext(local_time=datetime(2026, 1, 1, tzinfo=UTC), timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="UTC offset"):
        PlanningContext(local_time=datetime(2026, 1, 1), timezone="UTC")
