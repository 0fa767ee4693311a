"""A model call hands litellm's logging thread nothing, and is still priced (decision 0045).

The gateway relies on a litellm internal (`internal_sub_call`) to skip the success handler
litellm submits to its logging thread after each call. These tests fail when the pinned
litellm changes that: a bare `litellm.completion` must submit its success handler (else the
spy below watches the wrong thing), a call through the gateway must submit nothing, and its
answer must still carry the provider's token counts and litellm's price for them, on the
mock path and on each hosted provider's real HTTP path.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.llm.gateway import CompletionRequest, LiteLLMGateway, load_litellm
from adapters.llm.litellm_response import COST_PRECISION
from adapters.llm.mock import MockAnswer
from adapters.llm.routing import CandidateModel
from adapters.llm.schema import plan_response_format
from commands.ports.planner import LlmProvider, ProviderCredential
from tests.integration.adapters.llm.conftest import COMPLETION_TOKENS, PROMPT_TOKENS, ProviderStub

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning"),
]

MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "hi"}]
ANSWER = '{"summary": "s", "steps": []}'
FIRST_MODEL = {
    LlmProvider.OPENAI: "openai/gpt-4.1-mini",
    LlmProvider.AZURE: "azure/gpt-4.1-mini",
    LlmProvider.ANTHROPIC: "anthropic/claude-haiku-4-5",
    LlmProvider.GEMINI: "gemini/gemini-2.5-flash",
}


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Any, ...]]]:
    """The arguments of every task handed to litellm's logging thread pool."""
    load_litellm()
    pool = importlib.import_module("litellm.litellm_core_utils.thread_pool_executor").executor
    tasks: list[tuple[Any, ...]] = []
    submit = pool.submit

    def spy(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        tasks.append(args)
        return submit(fn, *args, **kwargs)

    monkeypatch.setattr(pool, "submit", spy)
    yield tasks


def listed_cost(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """What litellm's price list says these tokens of `model` cost."""
    litellm = load_litellm()
    prompt, completion = litellm.cost_per_token(
        model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )
    return Decimal(repr(prompt + completion)).quantize(COST_PRECISION)


def request_for(model: str) -> CompletionRequest:
    return CompletionRequest(CandidateModel(model), MESSAGES, plan_response_format(), 5.0, 500)


def test_a_bare_litellm_call_hands_its_success_handler_to_the_logging_thread(
    submitted: list[tuple[Any, ...]],
) -> None:
    litellm = load_litellm()
    litellm.completion(
        model="openai/gpt-4.1-mini", messages=MESSAGES, mock_response=ANSWER, api_key="sk-x"
    )
    [task] = submitted
    assert getattr(task[0], "__name__", None) == "success_handler"


def test_a_mock_answer_through_the_gateway_is_priced_and_hands_over_nothing(
    submitted: list[tuple[Any, ...]],
) -> None:
    from litellm.constants import DEFAULT_MOCK_RESPONSE_COMPLETION_TOKEN_COUNT as COMPLETION
    from litellm.constants import DEFAULT_MOCK_RESPONSE_PROMPT_TOKEN_COUNT as PROMPT

    gateway = LiteLLMGateway(lambda _model: MockAnswer.text(ANSWER))
    model = FIRST_MODEL[LlmProvider.OPENAI]

    answer = gateway.complete(request_for(model), ProviderCredential(SecretStr("sk-x")))

    assert submitted == []
    assert answer.content == ANSWER
    assert (answer.prompt_tokens, answer.completion_tokens) == (PROMPT, COMPLETION)
    assert answer.priced
    assert answer.cost_usd == listed_cost(model, PROMPT, COMPLETION)


@pytest.mark.parametrize("provider", list(FIRST_MODEL))
def test_a_providers_answer_through_the_gateway_is_priced_and_hands_over_nothing(
    provider: LlmProvider, provider_stub: ProviderStub, submitted: list[tuple[Any, ...]]
) -> None:
    provider_stub.keys[provider] = "sk-stub-key"
    provider_stub.answer = ANSWER
    credential = ProviderCredential(
        SecretStr("sk-stub-key"),
        api_base=provider_stub.api_base(provider),
        api_version="2024-10-21" if provider is LlmProvider.AZURE else None,
    )
    model = FIRST_MODEL[provider]

    answer = LiteLLMGateway().complete(request_for(model), credential)

    assert [r.provider for r in provider_stub.requests] == [provider]
    assert submitted == []
    assert answer.content == ANSWER
    assert (answer.prompt_tokens, answer.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert answer.priced
    assert answer.cost_usd == listed_cost(model, PROMPT_TOKENS, COMPLETION_TOKENS)
