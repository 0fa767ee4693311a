"""The policy port: decide a plan deterministically, validate policy texts, replay decisions.

Command handlers depend on this Protocol; `adapters.policy.engine.CedarPolicyEngine` implements
it with Cedar (cedarpy). The model types live in `domain.policy.model`; docs/policy.md
describes the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from domain.policy.inputs import Clock
from domain.policy.model import Decision, DecisionInput, PolicyProblem, Principal
from domain.runs.plan import Plan


class PolicyEngine(Protocol):
    def default_policies(self, tenant_id: str) -> str:
        """The policy text a new tenant starts with."""
        ...

    def validate(self, policy_text: str) -> list[PolicyProblem]:
        """Every problem of the text (parse, schema, missing or duplicate @id); [] if valid."""
        ...

    def accept(self, policy_text: str) -> str:
        """The text's version (sha256) if valid; raises `InvalidPolicies` (400) otherwise.
        For `PUT /v1/policies` before a `PolicyChanged` event is recorded."""
        ...

    def evaluate(
        self,
        plan: Plan,
        principal: Principal,
        capabilities: Iterable[str],
        clock: Clock,
        policy_text: str,
    ) -> Decision:
        """Read `clock` once, record every input in `Decision.input`, and decide the plan."""
        ...

    def decide(self, decision_input: DecisionInput, policy_text: str) -> Decision:
        """Decide a recorded input with the given text (which must match its version)."""
        ...

    def replay(self, decision_input: DecisionInput, policy_text: str | None = None) -> Decision:
        """Recompute a recorded decision: same outcome, same determining policies.
        Without `policy_text`, the engine must know the text of the recorded version
        (else `UnknownPolicyVersion`)."""
        ...
