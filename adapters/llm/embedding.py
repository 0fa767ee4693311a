"""Embeddings through litellm with a person's leased key: the planner's key handling
(`credential_kwargs`: Azure deployments, a local model's base URL) and its private-address
guard on a person's endpoint (decision 0023), one call per batch of texts.

Like the gateway, the secret is read only into the call's keyword arguments, never written to
the environment, and a failure keeps no provider text (it can echo the request).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.llm.endpoints import guarded_http_client
from adapters.llm.gateway import (
    _OPENAI_ROUTE,
    CompletionFailed,
    FailureKind,
    _classify,
    credential_kwargs,
    load_litellm,
)
from adapters.llm.routing import CandidateModel
from commands.ports.endpoints import EndpointGuard, ModelEndpointRefused
from commands.ports.planner import ProviderCredential


@dataclass(frozen=True)
class EmbeddingAnswer:
    vectors: list[tuple[float, ...]]
    prompt_tokens: int


class LiteLLMEmbeddings:
    def __init__(self, guard: EndpointGuard | None = None, timeout_s: float = 20.0) -> None:
        self._guard = guard
        self._timeout = timeout_s
        self._guarded_http: Any = None

    def embed(
        self, candidate: CandidateModel, texts: Sequence[str], credential: ProviderCredential
    ) -> EmbeddingAnswer:
        """The vectors of `texts`, in order; `CompletionFailed` if the model did not answer."""
        litellm = load_litellm()
        call: dict[str, Any] = {"input": list(texts), "timeout": self._timeout, "max_retries": 0}
        call.update(credential_kwargs(candidate, credential))
        if self._guard is not None and call.get("api_base"):
            try:
                self._guard.check(str(call["api_base"]))
            except ModelEndpointRefused:
                call.clear()
                raise CompletionFailed(FailureKind.ENDPOINT_REFUSED) from None
            if candidate.provider in _OPENAI_ROUTE:
                call["client"] = self._openai_client(call)
        failure: CompletionFailed | None = None
        try:
            response = litellm.embedding(**call)
        except Exception as exc:
            failure = _classify(litellm, exc)
        finally:
            call.clear()
        if failure is not None:
            raise failure
        rows = sorted(response.data, key=lambda row: int(row["index"]))
        vectors = [tuple(float(x) for x in row["embedding"]) for row in rows]
        if len(vectors) != len(texts):
            raise CompletionFailed(FailureKind.PROVIDER_ERROR)
        usage = getattr(response, "usage", None)
        tokens = getattr(usage, "prompt_tokens", None)
        return EmbeddingAnswer(vectors, tokens if isinstance(tokens, int) else 0)

    def _openai_client(self, call: dict[str, Any]) -> Any:
        """litellm's OpenAI client over the guarded HTTP client (no redirects, the guard on
        every request), as the gateway does for completions."""
        if self._guarded_http is None:
            assert self._guard is not None
            self._guarded_http = guarded_http_client(self._guard)
        openai: Any = importlib.import_module("openai")
        return openai.OpenAI(
            api_key=call["api_key"],
            base_url=call["api_base"],
            http_client=self._guarded_http,
            max_retries=0,
            timeout=call["timeout"],
        )
