"""Re-evaluate a recorded policy decision with the Cedar engine (for `cairn audit verify`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.policy.engine import CedarPolicyEngine
from domain.policy.model import DecisionInput


class CedarReplayer:
    def __init__(self, engine: CedarPolicyEngine | None = None) -> None:
        self.engine = engine or CedarPolicyEngine()

    def replay(self, recorded: Mapping[str, Any], texts: Mapping[str, str]) -> str | None:
        decision_input = DecisionInput.model_validate(recorded["input"])
        text = texts.get(decision_input.policy_version)
        if text is None:
            return f"the export has no policy text of version {decision_input.policy_version}"
        household = None
        if decision_input.household_version is not None:
            household = texts.get(decision_input.household_version)
            if household is None:
                return "the export has no household guardrails of the recorded version"
        again = self.engine.decide(decision_input, text, household).model_dump(mode="json")
        if again["outcome"] != recorded.get("outcome"):
            return f"recorded {recorded.get('outcome')}, re-evaluated {again['outcome']}"
        differing = sorted(k for k in again if k != "outcome" and again[k] != recorded.get(k))
        if differing:
            return f"recorded {', '.join(differing)} differ from the re-evaluation"
        return None
