"""Recorded policy decisions in an export, re-evaluated from their recorded inputs and texts.

A run's `PolicyDecided` event records the decision with its whole input (plan, capabilities,
clock, versions of the policy texts); the texts are in the policy sets' events of the same
export (`PoliciesAdopted`, `PolicyChanged`, `GuardrailsAdopted`, `GuardrailsChanged`), named by
their SHA-256. A run is decided once, so its id is the decision's id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.audit.findings import Finding, FindingClass

_POLICY_TYPES = ("PolicySet", "HouseholdGuardrails")


class DecisionReplayer(Protocol):
    def replay(self, recorded: Mapping[str, Any], texts: Mapping[str, str]) -> str | None:
        """None when the recorded decision (with its `outcome`) is reproduced from its input
        and the texts (by version); otherwise why not."""
        ...


@dataclass
class DecisionLedger:
    replayer: DecisionReplayer | None
    texts: dict[str, str] = field(default_factory=dict)
    recorded: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.recorded)

    def observe(self, seq: int, subject: str, data: bytes) -> None:
        tokens = subject.split(".")
        if len(tokens) != 4 or (tokens[2] != "Run" and tokens[2] not in _POLICY_TYPES):
            return
        try:
            state = json.loads(data)
        except ValueError:
            return  # not JSON: the leaf check reports a changed event
        if not isinstance(state, dict):
            return
        if tokens[2] == "Run" and isinstance(state.get("decision"), dict):
            record = {**state["decision"], "outcome": state.get("outcome")}
            self.recorded.append((seq, tokens[3], record))
        elif isinstance(state.get("text"), str) and isinstance(state.get("policy_version"), str):
            text = state["text"]
            if hashlib.sha256(text.encode()).hexdigest() == state["policy_version"]:
                self.texts[state["policy_version"]] = text

    def replay_all(self) -> list[Finding]:
        if self.replayer is None:
            return []
        found: list[Finding] = []
        for seq, run_id, record in self.recorded:
            try:
                why = self.replayer.replay(record, self.texts)
            except Exception as exc:  # a record the engine cannot even read is not reproduced
                why = f"cannot be re-evaluated: {exc}"
            if why is not None:
                found.append(Finding(FindingClass.DECISION, why, seq, decision_id=run_id))
        return found
