"""The planner adapter: litellm with bring-your-own keys, routing and fallback.

Importing this package does not import litellm (that happens on the first model call, or on
`LiteLLMGateway.warm_up()`).
"""

from adapters.llm.context import ClockContextProvider, FixedContextProvider
from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer, MockFailure, ScriptedAnswers
from adapters.llm.planner import LiteLLMPlanner, PlannerSettings
from adapters.llm.routing import DEFAULT_ROUTING_TABLE, RoutingTable, TaskComplexity

__all__ = [
    "DEFAULT_ROUTING_TABLE",
    "ClockContextProvider",
    "FixedContextProvider",
    "LiteLLMGateway",
    "LiteLLMPlanner",
    "MockAnswer",
    "MockFailure",
    "PlannerSettings",
    "RoutingTable",
    "ScriptedAnswers",
    "TaskComplexity",
]
