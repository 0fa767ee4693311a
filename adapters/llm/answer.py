"""Turning the model's text into a domain `Plan`, or saying precisely why not.

Two kinds of failure, handled differently by the planner:

- `MalformedAnswer`: not one JSON object of the schema's shape (empty, not JSON, missing or
  extra fields, a bad step id, ...). That is the model failing at the format; the next model
  is asked.
- `UnknownAction` / `InvalidParameters` (domain errors, raised by `Plan` itself): the model
  answered in the format but proposed something the catalogue does not allow. That is final
  for the run: it may be the echo of an injected request, and asking other models until one
  complies would only hide it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from pydantic import ValidationError

from domain.runs.plan import Plan

MAX_ANSWER_CHARS = 100_000

# Some models wrap JSON in a Markdown fence despite being told not to; that is harmless.
_FENCED = re.compile(r"^```(?:json)?\s*\n(?P<body>.*)\n```$", re.DOTALL)


class MalformedAnswer(Exception):
    """The answer is not a plan in the schema; `reason` is a short stable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def parse_plan_answer(text: str | None) -> Plan:
    document = _json_object(text)
    _require_unique_step_ids(document)
    try:
        return Plan.model_validate(document)
    except ValidationError as exc:
        raise MalformedAnswer("not_schema", _summarise(exc)) from None


def _json_object(text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        raise MalformedAnswer("empty", "the answer is empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise MalformedAnswer("too_long", f"the answer is longer than {MAX_ANSWER_CHARS} chars")
    stripped = text.strip()
    fenced = _FENCED.match(stripped)
    if fenced:
        stripped = fenced.group("body")
    try:
        # NaN and Infinity are not JSON; a plan containing them could not be hashed canonically.
        document = json.loads(stripped, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedAnswer("not_json", f"the answer is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise MalformedAnswer("not_schema", "the answer is JSON but not an object")
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _require_unique_step_ids(document: dict[str, Any]) -> None:
    # The executor derives each step's idempotency key from run and step id: two steps with
    # one id would be executed as one.
    steps = document.get("steps")
    if not isinstance(steps, list):
        return
    ids = Counter(step.get("step_id") for step in steps if isinstance(step, dict))
    repeated = sorted(str(step_id) for step_id, count in ids.items() if count > 1)
    if repeated:
        raise MalformedAnswer("not_schema", f"step ids repeat: {', '.join(repeated)}")


def _summarise(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in detail['loc']) or '(root)'}: {detail['msg']}"
        for detail in error.errors()[:5]
    ]
    return "the answer does not match the plan schema: " + "; ".join(problems)
