"""Scripted answers and the litellm mock parameters they become."""

from __future__ import annotations

import pytest

from adapters.llm.mock import SERVER_ERROR, MockAnswer, MockFailure, ScriptedAnswers

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("answer", "kwargs"),
    [
        (MockAnswer.text('{"a": 1}'), {"mock_response": '{"a": 1}'}),
        (MockAnswer.failing(MockFailure.TIMEOUT), {"mock_timeout": True}),
        (MockAnswer.failing(MockFailure.RATE_LIMITED), {"mock_response": "litellm.RateLimitError"}),
        (
            MockAnswer.failing(MockFailure.SERVER_ERROR),
            {"mock_response": "litellm.InternalServerError"},
        ),
    ],
)
def test_litellm_kwargs(answer: MockAnswer, kwargs: dict[str, object]) -> None:
    assert answer.litellm_kwargs() == kwargs


def test_a_tool_call_answer_has_empty_content_and_one_call() -> None:
    kwargs = MockAnswer.tool_call('{"a": 1}').litellm_kwargs()
    assert kwargs["mock_response"] == ""
    [call] = kwargs["mock_tool_calls"]
    assert call["function"]["arguments"] == '{"a": 1}'


def test_scripted_answers_in_order_then_the_last_repeats() -> None:
    first, second = MockAnswer.text("1"), MockAnswer.text("2")
    script = ScriptedAnswers({"openai/gpt-4.1": [first, second]})
    assert [script("openai/gpt-4.1") for _ in range(3)] == [first, second, second]
    assert script.asked == ["openai/gpt-4.1"] * 3


def test_unscripted_models_get_the_default() -> None:
    assert ScriptedAnswers({})("gemini/gemini-2.5-flash") == SERVER_ERROR
    assert ScriptedAnswers({}, default=None)("gemini/gemini-2.5-flash") is None
