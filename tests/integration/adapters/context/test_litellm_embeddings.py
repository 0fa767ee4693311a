"""The person's embedding model through litellm's real OpenAI client, against a local server
speaking the embeddings API: the production path of `LiteLLMEmbedder` (key handling and the
endpoint guard of adapters/llm), no mock inside litellm."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr

from adapters.context.embeddings import EmbedderUnavailable, LiteLLMEmbedder
from adapters.llm.embedding import LiteLLMEmbeddings
from adapters.llm.endpoints import ResolvingEndpointGuard
from commands.ports.planner import ProviderCredential
from tests.support.embeddings_stub import EmbeddingsStub, vector_of

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

KEY = "sk-embed-test-1"


def _embedder(
    stub: EmbeddingsStub, model: str, key: str = KEY, **credential: object
) -> LiteLLMEmbedder:
    lease = lambda: ProviderCredential(  # noqa: E731
        api_key=SecretStr(key),
        api_base=stub.base_url,
        **credential,  # type: ignore[arg-type]
    )
    return LiteLLMEmbedder(model, lease, LiteLLMEmbeddings(ResolvingEndpointGuard(True)))


def test_openai_embeddings_carry_model_and_dimension() -> None:
    with EmbeddingsStub(KEY) as stub:
        embedder = _embedder(stub, "openai/text-embedding-3-small")
        rows = embedder.passages(["Sarah Lee is my dentist", "the office is upstairs"])
        query = embedder.query("dentist")
    assert [r.model for r in rows] == ["openai/text-embedding-3-small"] * 2
    assert [r.dim for r in rows] == [1536, 1536]
    assert list(rows[0].vector) == pytest.approx(vector_of("Sarah Lee is my dentist", 1536))
    assert query.dim == 1536
    assert stub.requests[0]["model"] == "text-embedding-3-small"
    assert stub.texts() == ["Sarah Lee is my dentist", "the office is upstairs", "dentist"]


def test_a_local_model_is_called_by_its_name_at_its_base_url() -> None:
    with EmbeddingsStub("no-key", dim=768) as stub:
        lease = lambda: ProviderCredential(  # noqa: E731
            api_key=SecretStr(""), api_base=stub.base_url, deployments={"default": "nomic"}
        )
        embedder = LiteLLMEmbedder(
            "local/default", lease, LiteLLMEmbeddings(ResolvingEndpointGuard(True))
        )
        (row,) = embedder.passages(["hello there"])
    assert row.model == "local/default" and row.dim == 768
    assert stub.requests[0]["model"] == "nomic"


def test_a_refused_key_is_unavailable_without_echoing_the_provider() -> None:
    with EmbeddingsStub(KEY) as stub:
        embedder = _embedder(stub, "openai/text-embedding-3-small", key="sk-wrong-key-9")
        with pytest.raises(EmbedderUnavailable) as raised:
            embedder.passages(["anything"])
    assert raised.value.code == "embedder_unavailable"
    assert "sk-wrong" not in str(raised.value) and raised.value.__cause__ is None


def test_a_private_endpoint_is_refused_unless_allowed() -> None:
    with EmbeddingsStub(KEY) as stub:
        lease = lambda: ProviderCredential(api_key=SecretStr(KEY), api_base=stub.base_url)  # noqa: E731
        embedder = LiteLLMEmbedder(
            "openai/text-embedding-3-small", lease, LiteLLMEmbeddings(ResolvingEndpointGuard())
        )
        with pytest.raises(EmbedderUnavailable):
            embedder.query("anything")
        assert stub.requests == []
