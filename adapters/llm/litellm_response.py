"""Reading litellm's answer objects: the text, the token counts and the price.

litellm's response types are used as `Any` (its typing is partial): every value read is
checked. The litellm module is passed in by `adapters.llm.gateway`, the one module that
imports it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.llm.routing import CandidateModel

COST_PRECISION = Decimal("1e-10")


def content_of(response: Any) -> str | None:
    choices = getattr(response, "choices", None)
    if not choices:
        return None
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if isinstance(content, str) and content.strip():
        return content
    # Some providers answer a response schema through a single forced tool call.
    tool_calls = getattr(message, "tool_calls", None) or []
    if len(tool_calls) == 1:
        arguments = getattr(getattr(tool_calls[0], "function", None), "arguments", None)
        if isinstance(arguments, str):
            return arguments
    return None


def cost_of(
    litellm: Any, response: Any, candidate: CandidateModel, priced_by_litellm: bool
) -> tuple[Decimal, bool]:
    # Priced by the routing table's model name: an Azure deployment name means nothing to
    # litellm's price list. When the call was routed under that name, litellm has priced the
    # answer already (`response_cost`, the same `completion_cost`): asking again cost ~0.5 ms
    # of a ~2.7 ms call (decision 0038).
    hidden = getattr(response, "_hidden_params", None)
    cost = hidden.get("response_cost") if priced_by_litellm and isinstance(hidden, dict) else None
    if cost is None:
        try:
            cost = litellm.completion_cost(completion_response=response, model=candidate.model)
        except Exception:
            return Decimal(0), False
    if not isinstance(cost, int | float) or cost < 0:
        return Decimal(0), False
    return Decimal(repr(float(cost))).quantize(COST_PRECISION), True


def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None
