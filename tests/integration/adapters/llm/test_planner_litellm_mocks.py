"""The planner through the real litellm code path, with litellm's own mock responses.

`mock_response` / `mock_tool_calls` / `mock_timeout` make litellm skip only the network call:
model names, credentials, response_format and the provider's parameter mapping still run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from adapters.llm import LiteLLMGateway, LiteLLMPlanner, MockAnswer, PlannerSettings
from adapters.llm.gateway import CompletionRequest, load_litellm
from adapters.llm.mock import MockFailure, ScriptedAnswers
from adapters.llm.prompt import build_messages
from adapters.llm.routing import DEFAULT_ROUTING_TABLE, CandidateModel
from adapters.llm.schema import plan_response_format
from commands.ports.planner import (
    CostPreference,
    LatencyNeed,
    LlmProvider,
    PlanInvalid,
    PlannerUnavailable,
    PlanningContext,
    ProviderCredential,
    ProviderKeys,
    RoutingPreference,
)
from domain.runs.actions import CreateCalendarEvent

pytestmark = pytest.mark.integration

NEW_YORK = ZoneInfo("America/New_York")
SARAH = "Schedule a meeting with Sarah next Tuesday at 2pm"
CONTEXT = PlanningContext(
    local_time=datetime(2026, 11, 26, 9, 0, tzinfo=NEW_YORK),  # a Thursday
    timezone="America/New_York",
    contacts=({"name": "Sarah Lee", "email": "sarah@example.com"},),  # type: ignore[arg-type]
    integrations=("google",),
)
# simple/balanced/normal with every key: these three are tried, in this order.
FIRST, SECOND, THIRD = "openai/gpt-4.1-mini", "azure/gpt-4.1-mini", "anthropic/claude-haiku-4-5"
BALANCED = RoutingPreference()


def sarah_plan(**parameter_changes: Any) -> str:
    parameters = {
        "title": "Meeting with Sarah",
        "start": "2026-12-01T14:00:00-05:00",
        "end": "2026-12-01T15:00:00-05:00",
        "attendees": ["sarah@example.com"],
        **parameter_changes,
    }
    return json.dumps(
        {
            "summary": "Meeting with Sarah on Tuesday 1 December at 2pm",
            "steps": [
                {
                    "step_id": "s1",
                    "action": "calendar.create_event",
                    "provider": "google",
                    "parameters": parameters,
                }
            ],
        }
    )


def all_keys() -> ProviderKeys:
    key = SecretStr("sk-mock-path")
    return ProviderKeys.of(
        {
            LlmProvider.OPENAI: ProviderCredential(key),
            LlmProvider.ANTHROPIC: ProviderCredential(key),
            LlmProvider.GEMINI: ProviderCredential(key),
            LlmProvider.AZURE: ProviderCredential(
                key, api_base="https://cairn-test.openai.azure.com", api_version="2024-10-21"
            ),
        }
    )


def planner_for(script: ScriptedAnswers, **settings: Any) -> LiteLLMPlanner:
    return LiteLLMPlanner(LiteLLMGateway(script), settings=PlannerSettings(**settings))


def mock_cost(model: str, calls: int = 1) -> Decimal:
    """What litellm's price list says `calls` mock answers of `model` cost."""
    litellm = load_litellm()
    from litellm.constants import (
        DEFAULT_MOCK_RESPONSE_COMPLETION_TOKEN_COUNT as COMPLETION_TOKENS,
    )
    from litellm.constants import DEFAULT_MOCK_RESPONSE_PROMPT_TOKEN_COUNT as PROMPT_TOKENS

    prices = litellm.model_cost[model.partition("/")[2] if model.startswith("openai/") else model]
    cost = PROMPT_TOKENS * prices["input_cost_per_token"]
    cost += COMPLETION_TOKENS * prices["output_cost_per_token"]
    return Decimal(repr(cost)).quantize(Decimal("1e-10")) * calls


def test_sarah_meeting_becomes_a_calendar_event_plan() -> None:
    script = ScriptedAnswers({FIRST: MockAnswer.text(sarah_plan())})
    proposed = planner_for(script).propose(SARAH, CONTEXT, all_keys(), BALANCED)

    [step] = proposed.plan.steps
    assert step.action == "calendar.create_event"
    event = CreateCalendarEvent.model_validate(step.parameters)
    assert event.start == datetime(2026, 12, 1, 14, 0, tzinfo=NEW_YORK)
    assert event.attendees == ["sarah@example.com"]
    usage = proposed.usage
    assert (usage.model, usage.provider) == (FIRST, "openai")
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.cost_usd == mock_cost(FIRST) > 0
    assert usage.attempts == [f"{FIRST}: ok"]
    assert script.asked == [FIRST]


def test_invalid_json_falls_back_to_the_next_model() -> None:
    script = ScriptedAnswers(
        {
            FIRST: MockAnswer.text("Sure! I'll set that up for you."),
            SECOND: MockAnswer.text(sarah_plan()),
        }
    )
    proposed = planner_for(script).propose(SARAH, CONTEXT, all_keys(), BALANCED)

    assert proposed.plan.steps[0].action == "calendar.create_event"
    assert proposed.usage.model == SECOND
    assert proposed.usage.provider == "azure"
    assert proposed.usage.attempts == [f"{FIRST}: invalid_answer (not_json)", f"{SECOND}: ok"]
    # The failed answer was paid for: its tokens and cost are included.
    assert proposed.usage.cost_usd == mock_cost(FIRST) + mock_cost(SECOND)
    single = planner_for(ScriptedAnswers({FIRST: MockAnswer.text(sarah_plan())}))
    alone = single.propose(SARAH, CONTEXT, all_keys(), BALANCED).usage
    assert proposed.usage.prompt_tokens == 2 * alone.prompt_tokens
    assert proposed.usage.completion_tokens == 2 * alone.completion_tokens


def test_an_answer_given_as_a_tool_call_is_read() -> None:
    script = ScriptedAnswers({FIRST: MockAnswer.tool_call(sarah_plan())})
    proposed = planner_for(script).propose(SARAH, CONTEXT, all_keys(), BALANCED)
    assert proposed.plan.steps[0].action == "calendar.create_event"


def test_an_unknown_action_is_rejected_with_its_name_and_no_other_model_asked() -> None:
    injected = sarah_plan().replace("calendar.create_event", "shell.exec")
    script = ScriptedAnswers(
        {FIRST: MockAnswer.text(injected), SECOND: MockAnswer.text(sarah_plan())}
    )
    with pytest.raises(PlanInvalid) as raised:
        planner_for(script).propose(SARAH, CONTEXT, all_keys(), BALANCED)

    error = raised.value
    assert error.code == "plan_invalid"
    assert "'shell.exec'" in error.message
    assert "nothing was executed" in error.message
    assert error.details["reason"] == "unknown_action"
    assert error.details["action"] == "shell.exec"
    assert error.details["attempts"] == [f"{FIRST}: plan_invalid"]
    assert script.asked == [FIRST]
    assert error.usage is not None and error.usage.cost_usd == mock_cost(FIRST)


def test_invalid_parameters_are_rejected() -> None:
    script = ScriptedAnswers({FIRST: MockAnswer.text(sarah_plan(start="next Tuesday 2pm"))})
    with pytest.raises(PlanInvalid) as raised:
        planner_for(script).propose(SARAH, CONTEXT, all_keys(), BALANCED)

    assert raised.value.details["reason"] == "invalid_action_parameters"
    assert raised.value.details["action"] == "calendar.create_event"
    assert [e["location"] for e in raised.value.details["errors"]] == [["start"]]


def test_every_model_failing_means_planner_unavailable() -> None:
    script = ScriptedAnswers(
        {
            FIRST: MockAnswer.failing(MockFailure.TIMEOUT),
            SECOND: MockAnswer.failing(MockFailure.RATE_LIMITED),
            THIRD: MockAnswer.failing(MockFailure.SERVER_ERROR),
        }
    )
    quick = {LatencyNeed.FAST: 0.1, LatencyNeed.NORMAL: 0.1}
    with pytest.raises(PlannerUnavailable) as raised:
        planner_for(script, timeout_seconds=quick).propose(SARAH, CONTEXT, all_keys(), BALANCED)

    assert raised.value.code == "planner_unavailable"
    assert raised.value.details["attempts"] == [
        f"{FIRST}: timeout",
        f"{SECOND}: rate_limited",
        f"{THIRD}: provider_error",
    ]
    assert raised.value.usage is None


def test_only_malformed_answers_means_plan_invalid() -> None:
    script = ScriptedAnswers({}, default=MockAnswer.text('{"summary": "no steps"}'))
    with pytest.raises(PlanInvalid) as raised:
        planner_for(script).propose(SARAH, CONTEXT, all_keys(), BALANCED)
    assert raised.value.details["reason"] == "no_valid_answer"
    assert len(raised.value.details["attempts"]) == 3


def test_the_route_follows_the_preference() -> None:
    script = ScriptedAnswers({}, default=MockAnswer.text(sarah_plan()))
    cheap_fast = RoutingPreference(cost=CostPreference.CHEAP, latency=LatencyNeed.FAST)
    proposed = planner_for(script).propose(SARAH, CONTEXT, all_keys(), cheap_fast)
    assert proposed.usage.model == "gemini/gemini-2.5-flash-lite"
    assert proposed.usage.cost_usd == mock_cost("gemini/gemini-2.5-flash-lite")


def test_every_model_of_the_default_table_runs_through_litellm_and_is_priced() -> None:
    # A person's local model has no price (decision 0023; tests/e2e/runs/test_local_model.py).
    rows = DEFAULT_ROUTING_TABLE.routes.values()
    models = sorted({c.model for row in rows for c in row if c.provider is not LlmProvider.LOCAL})
    script = ScriptedAnswers({}, default=MockAnswer.text(sarah_plan()))
    gateway = LiteLLMGateway(script)
    keys = all_keys()
    for model in models:
        candidate = CandidateModel(model)
        request = CompletionRequest(
            candidate, build_messages(SARAH, CONTEXT), plan_response_format(), 5.0, 2000
        )
        answer = gateway.complete(request, keys.lease(candidate.provider))
        assert answer.content == sarah_plan(), model
        assert answer.priced, f"litellm has no price for {model}"
        assert answer.cost_usd > 0, model


def test_importing_the_adapter_does_not_import_litellm() -> None:
    code = "import sys, adapters.llm; sys.exit('litellm' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


FIRST_CALL_AFTER_WARM_UP = """
import sys
from adapters.llm import LiteLLMGateway, MockAnswer
from adapters.llm.gateway import CompletionRequest
from adapters.llm.routing import CandidateModel
from adapters.llm.schema import plan_response_format
from commands.ports.planner import ProviderCredential
from pydantic import SecretStr
gateway = LiteLLMGateway(lambda model: MockAnswer.text("{}"))
{warm_up}
before = set(sys.modules)
messages, schema = [{"role": "user", "content": "hi"}], plan_response_format()
request = CompletionRequest(CandidateModel("openai/gpt-4.1-mini"), messages, schema, 5.0, 100)
gateway.complete(request, ProviderCredential(SecretStr("sk-test-key")))
print(sorted(set(sys.modules) - before))
"""


@pytest.mark.parametrize(
    "warm_up",
    [
        "gateway.warm_up()",
        # What a `cairn worker` process does before it follows the run events.
        "from entrypoints.worker_cli import settle; settle()",
    ],
)
def test_after_warm_up_a_first_model_call_has_nothing_left_to_import(warm_up: str) -> None:
    command = [sys.executable, "-c", FIRST_CALL_AFTER_WARM_UP.replace("{warm_up}", warm_up)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


CALL_ONCE = """
import logging
from adapters.llm import LiteLLMGateway, MockAnswer
from adapters.llm.gateway import CompletionRequest
from adapters.llm.routing import CandidateModel
from commands.ports.planner import ProviderCredential
from pydantic import SecretStr
logging.basicConfig(level=logging.INFO)
gateway = LiteLLMGateway(lambda model: MockAnswer.text("{}"))
candidate = CandidateModel("openai/gpt-4.1-mini")
request = CompletionRequest(candidate, [{"role": "user", "content": "hi"}], {}, 5.0, 100)
gateway.complete(request, ProviderCredential(SecretStr("sk-test-key")))
"""


@pytest.mark.parametrize(("litellm_log", "logged"), [(None, False), ("INFO", True)])
def test_litellm_logs_no_line_per_call_unless_litellm_log_asks(
    litellm_log: str | None, logged: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOG"}
    if litellm_log is not None:
        env["LITELLM_LOG"] = litellm_log
    done = subprocess.run(
        [sys.executable, "-c", CALL_ONCE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert ("LiteLLM completion()" in done.stdout + done.stderr) is logged
