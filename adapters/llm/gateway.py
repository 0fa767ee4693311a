"""The one module that imports litellm: one model call with a leased key, nothing more.

litellm is imported lazily (about 3-5 s, and it would fetch a price list from the network
unless `LITELLM_LOCAL_MODEL_COST_MAP` is set, which this module does first). Its typing is
partial, so it is used as `Any` here and every value read from it is checked or converted
explicitly; nothing outside this module touches litellm objects.

Key handling: the secret is read from its `SecretStr` only while building the call's keyword
arguments and is given to `litellm.completion(api_key=...)`; it is never written to
`os.environ` or to litellm's module-level settings. A failed call is reported as a
`CompletionFailed` carrying only a failure kind and an HTTP status: provider error texts can
echo request details, so they are dropped (and not chained) rather than scrubbed.

litellm hands each successful call to a logging thread for its callbacks; Cairn registers
none, so calls run under `success_logging_off()` (decision 0045).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from adapters.llm.endpoints import guarded_http_client
from adapters.llm.litellm_response import content_of, cost_of, int_or_none
from adapters.llm.mock import MockAnswerSource
from adapters.llm.routing import CandidateModel
from commands.ports.endpoints import EndpointGuard, ModelEndpointRefused
from commands.ports.planner import LlmProvider, ProviderCredential

logger = logging.getLogger(__name__)


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    PROVIDER_ERROR = "provider_error"
    # The endpoint now resolves to an address the server must not call (decision 0023).
    ENDPOINT_REFUSED = "endpoint_refused"


class CompletionFailed(Exception):
    def __init__(self, kind: FailureKind, status_code: int | None = None) -> None:
        status = f" (HTTP {status_code})" if status_code is not None else ""
        super().__init__(f"{kind.value}{status}")
        self.kind = kind
        self.status_code = status_code


class CredentialIncomplete(ValueError):
    """A credential lacks a field its provider needs (names the field, never a value)."""


@dataclass(frozen=True)
class CompletionRequest:
    candidate: CandidateModel
    messages: Sequence[Mapping[str, str]]
    response_format: Mapping[str, Any]
    timeout_seconds: float
    max_output_tokens: int


@dataclass(frozen=True)
class CompletionAnswer:
    content: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    # False when litellm has no price for the model: cost_usd is 0 then, not the real cost.
    priced: bool


class CompletionGateway(Protocol):
    def warm_up(self) -> None:
        """Do slow one-time set-up (imports) now, not inside the first timed call."""
        ...

    def complete(
        self, request: CompletionRequest, credential: ProviderCredential
    ) -> CompletionAnswer: ...


def credential_kwargs(candidate: CandidateModel, credential: ProviderCredential) -> dict[str, Any]:
    """`model`, `api_key` and, where needed, `api_base` / `api_version` for one call.

    The only place a secret's plain value is read. The result must go straight to litellm.
    """
    kwargs: dict[str, Any] = {"model": candidate.model}
    if candidate.provider is LlmProvider.LOCAL:
        # An OpenAI-compatible server (Ollama, llama.cpp, vLLM): litellm's `openai/` route
        # with the person's base URL and model name. Many need no key; the client needs one.
        if not credential.api_base:
            raise CredentialIncomplete("a local model needs api_base (its base URL)")
        model = credential.deployments.get(candidate.name, candidate.name)
        return {
            "model": f"openai/{model}",
            "api_base": credential.api_base,
            "api_key": credential.api_key.get_secret_value() or "no-key",
        }
    if candidate.provider is LlmProvider.AZURE:
        if not credential.api_base:
            raise CredentialIncomplete("an Azure credential needs api_base (the resource URL)")
        if not credential.api_version:
            raise CredentialIncomplete("an Azure credential needs api_version")
        deployment = credential.deployments.get(candidate.name, candidate.name)
        kwargs["model"] = f"azure/{deployment}"
        kwargs["api_version"] = credential.api_version
    if credential.api_base:
        kwargs["api_base"] = credential.api_base
    kwargs["api_key"] = credential.api_key.get_secret_value()
    return kwargs


@cache
def load_litellm() -> Any:
    # Respect an explicit setting; otherwise never fetch the price list at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    litellm: Any = importlib.import_module("litellm")
    if not os.environ.get("LITELLM_LOG"):
        # litellm logs two INFO lines per call (through its own handler and the root's):
        # ~0.4 ms of a call's ~2.9 ms of CPU (docs/decisions/0013). Warnings still show;
        # LITELLM_LOG brings its INFO and DEBUG lines back.
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
            logging.getLogger(name).setLevel(logging.WARNING)
    litellm.suppress_debug_info = True  # no "Provider List: ..." prints on stdout
    litellm.turn_off_message_logging = True  # intents stay out of any litellm callback
    litellm.redact_messages_in_exceptions = True
    return litellm


@cache
def success_logging_off() -> Callable[[], contextlib.AbstractContextManager[object]]:
    """Under it litellm hands a successful call to no logging thread (~0.8 ms of ~2.4 ms).

    litellm's `internal_sub_call()` marks a call logged by its caller; in a synchronous
    `completion` it only skips submitting the success handler: the cost stamped on the answer,
    exception mapping and redaction are unchanged (read in litellm 1.110.2, decision 0045).
    If an upgrade drops it, calls are logged as before and test_success_logging.py fails.
    """
    load_litellm()
    try:
        internal: Any = importlib.import_module("litellm._internal_context")
        off: Callable[[], contextlib.AbstractContextManager[object]] = internal.internal_sub_call
    except (ImportError, AttributeError):
        logger.warning("litellm has no internal_sub_call: each call is logged by litellm")
        return contextlib.nullcontext
    return off


@cache
def first_call_done() -> None:
    """litellm imports much of its call path during its first `completion` (~0.3 s of CPU):
    one offline mock call pays for it here, not inside a person's first model call."""
    litellm = load_litellm()
    try:
        with success_logging_off()():
            litellm.completion(**_WARM_UP_CALL)
    except Exception as exc:  # a warm-up that fails leaves the work to the first call
        logger.warning("litellm warm-up call failed: %s", type(exc).__name__)


_WARM_UP_CALL = {
    "model": "openai/gpt-4.1-mini",
    "messages": [{"role": "user", "content": "warm-up"}],
    "mock_response": "{}",
    "api_key": "warm-up",
}


class LiteLLMGateway:
    def __init__(
        self, mock_answers: MockAnswerSource | None = None, guard: EndpointGuard | None = None
    ) -> None:
        self._mock_answers = mock_answers
        # Checked again at each call: a name that resolved to a public address when it was
        # set may resolve to a private one now.
        self._guard = guard
        self._guarded_http: Any = None

    def warm_up(self) -> None:
        """Import litellm and its call path now (e.g. in a worker's start-up), once per
        process, instead of inside the first intent's model call."""
        first_call_done()

    def complete(
        self, request: CompletionRequest, credential: ProviderCredential
    ) -> CompletionAnswer:
        litellm = load_litellm()
        messages = [dict(message) for message in request.messages]
        call: dict[str, Any] = {
            "messages": messages,
            "response_format": dict(request.response_format),
            "timeout": float(request.timeout_seconds),
            "max_tokens": request.max_output_tokens,
            # Fallback is the planner's job, on another model; no silent retries here.
            "max_retries": 0,
        }
        if self._mock_answers is not None:
            mock = self._mock_answers(request.candidate.model)
            if mock is not None:
                call.update(mock.litellm_kwargs())
        call.update(credential_kwargs(request.candidate, credential))
        if self._guard is not None and call.get("api_base"):
            try:
                self._guard.check(str(call["api_base"]))
            except ModelEndpointRefused:
                call.clear()
                raise CompletionFailed(FailureKind.ENDPOINT_REFUSED) from None
            if request.candidate.provider in _OPENAI_ROUTE and "mock_response" not in call:
                call["client"] = self._openai_client(call)
        routed_model = call["model"]
        failure: CompletionFailed | None = None
        try:
            with success_logging_off()():
                response = litellm.completion(**call)
        except Exception as exc:
            # Raised outside the handler below, so no provider text rides along as __context__.
            failure = _classify(litellm, exc)
        finally:
            call.clear()
        if failure is not None:
            raise failure
        priced_by_litellm = routed_model == request.candidate.model
        return _answer_of(litellm, response, request.candidate, messages, priced_by_litellm)

    def _openai_client(self, call: Mapping[str, Any]) -> Any:
        """litellm's OpenAI client for a person's endpoint, over the guarded HTTP client (the
        guard on every request, no redirects: decision 0023)."""
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


# Providers litellm calls through its OpenAI client (an endpoint of the person's choosing).
_OPENAI_ROUTE = frozenset({LlmProvider.LOCAL, LlmProvider.OPENAI})


def _classify(litellm: Any, exc: Exception) -> CompletionFailed:
    status = getattr(exc, "status_code", None)
    status_code = status if isinstance(status, int) else None
    if isinstance(exc, litellm.Timeout):
        return CompletionFailed(FailureKind.TIMEOUT, status_code)
    if isinstance(exc, litellm.RateLimitError):
        return CompletionFailed(FailureKind.RATE_LIMITED, status_code)
    if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return CompletionFailed(FailureKind.AUTH_FAILED, status_code)
    return CompletionFailed(FailureKind.PROVIDER_ERROR, status_code)


def _answer_of(
    litellm: Any,
    response: Any,
    candidate: CandidateModel,
    messages: list[dict[str, str]],
    priced_by_litellm: bool = False,
) -> CompletionAnswer:
    content = content_of(response)
    usage = getattr(response, "usage", None)
    prompt_tokens = int_or_none(getattr(usage, "prompt_tokens", None))
    if prompt_tokens is None:
        prompt_tokens = int(litellm.token_counter(model=candidate.model, messages=messages))
    completion_tokens = int_or_none(getattr(usage, "completion_tokens", None))
    if completion_tokens is None:
        completion_tokens = int(litellm.token_counter(model=candidate.model, text=content or ""))
    cost, priced = cost_of(litellm, response, candidate, priced_by_litellm)
    return CompletionAnswer(content, prompt_tokens, completion_tokens, cost, priced)
