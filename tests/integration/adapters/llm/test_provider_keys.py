"""Bring-your-own keys over real HTTP: litellm's production path against a local stub.

No mock parameters here: litellm builds each provider's real request (URL, auth header,
schema translation), sends it with httpx to the stub, and parses the provider's real answer
shape. The stub checks the key arrived in that provider's header. Afterwards the key must be
nowhere else: not in os.environ, not in any log record (litellm's included, at DEBUG), not on
stdout/stderr, not in the usage, not in an error.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
import uuid
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from adapters.llm import LiteLLMPlanner
from adapters.llm.gateway import load_litellm
from adapters.llm.schema import plan_json_schema
from commands.ports.planner import (
    LlmProvider,
    PlannerUnavailable,
    PlanningContext,
    ProviderCredential,
    ProviderKeys,
    RoutingPreference,
)
from domain.runs.actions import CATALOGUE

AUTH_HEADER = {
    LlmProvider.OPENAI: "authorization",
    LlmProvider.AZURE: "api-key",
    LlmProvider.ANTHROPIC: "x-api-key",
    LlmProvider.GEMINI: "x-goog-api-key",
}

pytestmark = [
    pytest.mark.integration,
    # litellm's Gemini types trip a pydantic warning on first use; not ours to fix.
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning"),
]

SARAH = "Schedule a meeting with Sarah next Tuesday at 2pm"
CONTEXT = PlanningContext(
    local_time=datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Europe/London")),
    timezone="Europe/London",
)
PLAN = json.dumps(
    {
        "summary": "Meeting with Sarah",
        "steps": [
            {
                "step_id": "s1",
                "action": "calendar.create_event",
                "provider": "default",
                "parameters": {
                    "title": "Meeting with Sarah",
                    "start": "2026-12-01T14:00:00+00:00",
                    "end": "2026-12-01T15:00:00+00:00",
                },
            }
        ],
    }
)
# simple/balanced/normal: the first model of each provider in that row.
FIRST_MODEL = {
    LlmProvider.OPENAI: "openai/gpt-4.1-mini",
    LlmProvider.AZURE: "azure/gpt-4.1-mini",
    LlmProvider.ANTHROPIC: "anthropic/claude-haiku-4-5",
    LlmProvider.GEMINI: "gemini/gemini-2.5-flash",
}
AZURE_API_VERSION = "2024-10-21"
# Hosted providers with a key of their own; a person's local model goes over HTTP in
# tests/e2e/runs/test_local_model.py (decision 0023).
HOSTED = [p for p in LlmProvider if p is not LlmProvider.LOCAL]


def new_secret(provider: LlmProvider) -> str:
    """A fresh key shaped like the provider's real ones (redaction by pattern must not be what
    keeps it out of logs)."""
    token = uuid.uuid4().hex + uuid.uuid4().hex
    return {
        LlmProvider.OPENAI: f"sk-proj-{token}",
        LlmProvider.ANTHROPIC: f"sk-ant-api03-{token}",
        LlmProvider.GEMINI: f"AIza{token[:35]}",
        LlmProvider.AZURE: token[:32],
    }[provider]


def credential_for(stub: Any, provider: LlmProvider, secret: str) -> ProviderCredential:
    if provider is LlmProvider.AZURE:
        return ProviderCredential(
            SecretStr(secret),
            api_base=stub.api_base(provider),
            api_version=AZURE_API_VERSION,
            deployments=MappingProxyType({"gpt-4.1-mini": "cairn-mini"}),
        )
    return ProviderCredential(SecretStr(secret), api_base=stub.api_base(provider))


def action_enum_sent(provider: LlmProvider, body: dict[str, Any]) -> Any:
    """Where each provider's request carries the response schema, as litellm translates it."""
    if provider is LlmProvider.ANTHROPIC:
        schema = body["tools"][0]["input_schema"]
    elif provider is LlmProvider.GEMINI:
        schema = body["generationConfig"]["response_json_schema"]
    else:
        schema = body["response_format"]["json_schema"]["schema"]
    return schema["properties"]["steps"]["items"]["properties"]["action"]["enum"]


def nowhere_else(
    secret: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    assert not [name for name, value in os.environ.items() if secret in value]
    # The check means something only if litellm's own DEBUG records were captured.
    assert any(record.name == "LiteLLM" for record in caplog.records)
    assert not [r for r in caplog.records if secret in r.getMessage()]
    out, err = capfd.readouterr()
    assert secret not in out
    assert secret not in err


@pytest.fixture(autouse=True)
def _debug_logging_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    load_litellm()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="LiteLLM")
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")


@pytest.mark.parametrize("provider", HOSTED)
def test_the_persons_key_reaches_the_provider_and_nothing_else(
    provider: LlmProvider,
    provider_stub: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = new_secret(provider)
    provider_stub.keys[provider] = secret
    provider_stub.answer = PLAN
    keys = ProviderKeys.of({provider: credential_for(provider_stub, provider, secret)})

    proposed = LiteLLMPlanner().propose(SARAH, CONTEXT, keys, RoutingPreference())

    assert proposed.plan.steps[0].action == "calendar.create_event"
    [request] = provider_stub.requests
    assert request.provider is provider
    assert request.headers[AUTH_HEADER[provider]] == provider_stub.expected_header(provider)
    assert action_enum_sent(provider, request.body) == sorted(CATALOGUE)
    if provider is LlmProvider.AZURE:
        assert request.path.startswith("/openai/deployments/cairn-mini/chat/completions")
        assert f"api-version={AZURE_API_VERSION}" in request.path

    usage = proposed.usage
    assert usage.model == FIRST_MODEL[provider]
    assert usage.provider == provider.value
    assert (usage.prompt_tokens, usage.completion_tokens) == (321, 54)
    assert usage.cost_usd > Decimal(0)
    assert secret not in usage.model_dump_json()
    nowhere_else(secret, caplog, capfd)


def test_a_rejected_key_falls_back_and_the_providers_echo_of_it_goes_nowhere(
    provider_stub: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    wrong, right = new_secret(LlmProvider.OPENAI), new_secret(LlmProvider.AZURE)
    provider_stub.keys[LlmProvider.OPENAI] = "sk-the-one-openai-expects"
    provider_stub.keys[LlmProvider.AZURE] = right
    provider_stub.answer = PLAN
    keys = ProviderKeys.of(
        {
            LlmProvider.OPENAI: credential_for(provider_stub, LlmProvider.OPENAI, wrong),
            LlmProvider.AZURE: credential_for(provider_stub, LlmProvider.AZURE, right),
        }
    )

    proposed = LiteLLMPlanner().propose(SARAH, CONTEXT, keys, RoutingPreference())

    assert proposed.usage.attempts == [
        "openai/gpt-4.1-mini: auth_failed",
        "azure/gpt-4.1-mini: ok",
    ]
    assert [r.provider for r in provider_stub.requests] == [LlmProvider.OPENAI, LlmProvider.AZURE]
    nowhere_else(wrong, caplog, capfd)
    assert right not in caplog.text


def test_when_every_key_is_rejected_the_error_carries_no_key(
    provider_stub: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    secrets = {provider: new_secret(provider) for provider in HOSTED}
    keys = ProviderKeys.of(
        {p: credential_for(provider_stub, p, secret) for p, secret in secrets.items()}
    )  # the stub expects none of them: every call gets a 401 echoing the key

    with pytest.raises(PlannerUnavailable) as raised:
        LiteLLMPlanner().propose(SARAH, CONTEXT, keys, RoutingPreference())

    error = raised.value
    assert error.details["attempts"] == [
        "openai/gpt-4.1-mini: auth_failed",
        "azure/gpt-4.1-mini: auth_failed",
        "anthropic/claude-haiku-4-5: auth_failed",
    ]
    assert error.__cause__ is None
    assert error.__context__ is None
    rendered = "".join(traceback.format_exception(error)) + repr(error.details) + str(error)
    for secret in secrets.values():
        assert secret not in rendered
        nowhere_else(secret, caplog, capfd)


def test_the_response_schema_sent_is_the_plan_schema(provider_stub: Any) -> None:
    secret = new_secret(LlmProvider.OPENAI)
    provider_stub.keys[LlmProvider.OPENAI] = secret
    provider_stub.answer = PLAN
    keys = ProviderKeys.of(
        {LlmProvider.OPENAI: credential_for(provider_stub, LlmProvider.OPENAI, secret)}
    )
    LiteLLMPlanner().propose(SARAH, CONTEXT, keys, RoutingPreference())
    [request] = provider_stub.requests
    assert request.body["response_format"]["json_schema"]["schema"] == plan_json_schema()
    system, user = request.body["messages"]
    assert system["role"] == "system"
    assert SARAH not in system["content"]
    assert SARAH in user["content"]
