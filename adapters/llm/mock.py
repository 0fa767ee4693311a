"""Scripted model answers through litellm's own mock parameters.

With a mock source, `LiteLLMGateway` still calls `litellm.completion` with the real model name,
messages, credentials and response_format; litellm then runs its normal parameter handling and
returns (or raises) the scripted answer instead of calling the provider. Tests, the e2e suite
and benchmarks use this; production wiring passes no mock source.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class MockFailure(StrEnum):
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"


@dataclass(frozen=True)
class MockAnswer:
    content: str | None = None
    failure: MockFailure | None = None
    # Answer through a tool call with these JSON arguments instead of message content.
    tool_call_arguments: str | None = None

    @classmethod
    def text(cls, content: str) -> MockAnswer:
        return cls(content=content)

    @classmethod
    def tool_call(cls, arguments: str) -> MockAnswer:
        return cls(tool_call_arguments=arguments)

    @classmethod
    def failing(cls, failure: MockFailure) -> MockAnswer:
        return cls(failure=failure)

    def litellm_kwargs(self) -> dict[str, Any]:
        """The litellm mock parameters that produce this answer."""
        if self.failure is MockFailure.TIMEOUT:
            # litellm sleeps for the call's timeout, then raises its Timeout.
            return {"mock_timeout": True}
        if self.failure is MockFailure.RATE_LIMITED:
            return {"mock_response": "litellm.RateLimitError"}
        if self.failure is MockFailure.SERVER_ERROR:
            return {"mock_response": "litellm.InternalServerError"}
        if self.tool_call_arguments is not None:
            return {
                "mock_response": "",
                "mock_tool_calls": [
                    {
                        "id": "call_mock",
                        "type": "function",
                        "function": {"name": "cairn_plan", "arguments": self.tool_call_arguments},
                    }
                ],
            }
        return {"mock_response": self.content if self.content is not None else ""}


SERVER_ERROR = MockAnswer.failing(MockFailure.SERVER_ERROR)

MockAnswerSource = Callable[[str], MockAnswer | None]
"""Model name -> the scripted answer, or None to make a real call."""


class ScriptedAnswers:
    """Answers per model, in order; a model's last answer repeats once its script runs out.

    A model without a script gets `default` (a server error unless told otherwise), so a test
    never reaches a real provider by accident. `asked` lists the models asked, in order.
    """

    def __init__(
        self,
        script: Mapping[str, MockAnswer | Sequence[MockAnswer]],
        default: MockAnswer | None = SERVER_ERROR,
    ) -> None:
        self._script = {
            model: [answers] if isinstance(answers, MockAnswer) else list(answers)
            for model, answers in script.items()
        }
        self._default = default
        self._lock = threading.Lock()
        self.asked: list[str] = []

    def __call__(self, model: str) -> MockAnswer | None:
        with self._lock:
            self.asked.append(model)
            answers = self._script.get(model)
            if not answers:
                return self._default
            return answers.pop(0) if len(answers) > 1 else answers[0]
