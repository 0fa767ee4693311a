"""The policy port: decide a plan deterministically, validate policy texts, replay decisions.

Command handlers depend on this Protocol; `adapters.policy.engine.CedarPolicyEngine` implements
it with Cedar (cedarpy). The model types live in `domain.policy.model`; docs/policy.md
describes the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from domain.policy.inputs import Clock
from domain.policy.model import Decision, DecisionInput, PolicyProblem, Principal, UpstreamTool
from domain.runs.plan import Plan


class PolicyEngine(Protocol):
    def default_policies(self, tenant_id: str) -> str:
        """The policy text a new tenant starts with."""
        ...

    def default_household(self, tenant_id: str) -> str:
        """The household guardrails a tenant starts with."""
        ...

    def validate(self, policy_text: str, *, household: bool = False) -> list[PolicyProblem]:
        """Every problem of the text (parse, schema, missing or duplicate @id, the layer's
        rules); [] if valid."""
        ...

    def accept(self, policy_text: str, *, household: bool = False) -> str:
        """The text's version (sha256) if valid for its layer; raises `InvalidPolicies` (400)
        otherwise. Before a change of either layer is recorded."""
        ...

    def only_narrows(self, current_text: str, new_text: str) -> bool:
        """True if replacing `current_text` by `new_text` can only narrow what runs without
        the person (decision 0015); such a change needs no passkey bound to it."""
        ...

    def evaluate(
        self,
        plan: Plan,
        principal: Principal,
        capabilities: Iterable[str],
        clock: Clock,
        policy_text: str,
        household_text: str | None = None,
        *,
        upstream: Mapping[str, UpstreamTool] | None = None,
    ) -> Decision:
        """Read `clock` once, record every input in `Decision.input`, and decide the plan
        against both layers (the person's alone when `household_text` is None). `upstream`
        has the facts of each upstream MCP tool the plan names (by action name)."""
        ...

    def decide(
        self, decision_input: DecisionInput, policy_text: str, household_text: str | None = None
    ) -> Decision:
        """Decide a recorded input with the given texts (which must match its versions)."""
        ...

    def replay(
        self,
        decision_input: DecisionInput,
        policy_text: str | None = None,
        household_text: str | None = None,
    ) -> Decision:
        """Recompute a recorded decision: same outcome, same determining policies.
        A text not given must be known to the engine by its recorded version
        (else `UnknownPolicyVersion`)."""
        ...
