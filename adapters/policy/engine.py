"""The Cedar policy engine: validate a policy text, decide a plan, replay a recorded decision.

Parsing 200 policies costs tens of milliseconds; evaluating against a parsed set costs a
fraction of one. So a text is validated and parsed once, on first sight, and the parsed sets
are cached under its sha256 (the policy version) for every later decision and replay. All the
requests of a plan (two per step) go to Cedar in one batch call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

import cedarpy

from adapters.policy import cedar
from adapters.policy.compiled import CompiledPolicies
from adapters.policy.defaults import default_policies
from adapters.policy.schema import SCHEMA_TEXT
from adapters.policy.validation import static_policies, validate_policies
from domain.errors import InvalidInput
from domain.policy.combine import StepVerdicts, decide
from domain.policy.inputs import Clock, decision_input_for
from domain.policy.model import (
    Decision,
    DecisionInput,
    InvalidPolicies,
    PolicyProblem,
    Principal,
    UnknownPolicyVersion,
    policy_version,
)
from domain.runs.actions import CATALOGUE
from domain.runs.plan import Plan


class CedarPolicyEngine:
    """Implements `commands.ports.policy.PolicyEngine` with cedarpy. Safe to share across
    threads: cached handles are immutable and the cache is guarded by a lock."""

    def __init__(
        self,
        schema_text: str = SCHEMA_TEXT,
        *,
        cache_size: int = 64,
        actions: Iterable[str] = CATALOGUE,
    ) -> None:
        self._schema = cedarpy.Schema.from_str(schema_text)
        self._actions = frozenset(actions)  # the schema's actions, for slicing policy sets
        self.schema_version = policy_version(schema_text)
        self._cache_size = cache_size
        self._cache: OrderedDict[str, CompiledPolicies] = OrderedDict()
        self._lock = threading.Lock()

    # Policy texts

    def default_policies(self, tenant_id: str) -> str:
        return default_policies(tenant_id)

    def validate(self, policy_text: str) -> list[PolicyProblem]:
        return validate_policies(policy_text, self._schema)

    def accept(self, policy_text: str) -> str:
        """The text's version if it is valid; else `InvalidPolicies` listing every problem."""
        return self.compile(policy_text).version

    def compile(self, policy_text: str) -> CompiledPolicies:
        version = policy_version(policy_text)
        with self._lock:
            compiled = self._cache.get(version)
            if compiled is not None:
                self._cache.move_to_end(version)
                return compiled
        problems = self.validate(policy_text)
        if problems:
            raise InvalidPolicies.from_problems(problems)
        compiled = CompiledPolicies(
            version, policy_text, static_policies(policy_text), self._actions
        )
        with self._lock:
            self._cache[version] = compiled
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return compiled

    # Decisions

    def evaluate(
        self,
        plan: Plan,
        principal: Principal,
        capabilities: Iterable[str],
        clock: Clock,
        policy_text: str,
    ) -> Decision:
        """Read the clock once, record every input, and decide the plan."""
        compiled = self.compile(policy_text)
        decision_input = decision_input_for(
            plan, principal, capabilities, clock, compiled.version, self.schema_version
        )
        return self._decide(decision_input, compiled)

    def decide(self, decision_input: DecisionInput, policy_text: str) -> Decision:
        """Decide an already recorded input (a dry run, or a replay with the text at hand)."""
        compiled = self.compile(policy_text)
        if compiled.version != decision_input.policy_version:
            raise InvalidInput(
                "the policy text is not the version the decision input records",
                {"recorded": decision_input.policy_version, "given": compiled.version},
            )
        return self._decide(decision_input, compiled)

    def replay(self, decision_input: DecisionInput, policy_text: str | None = None) -> Decision:
        """Recompute a recorded decision from its input alone.

        The input names its policy text by hash. Without `policy_text` the text must be one this
        engine has compiled (and still caches); the caller otherwise passes the text of the
        `PolicyChanged` event with that hash, and it is checked against the hash.
        """
        if policy_text is not None:
            return self.decide(decision_input, policy_text)
        with self._lock:
            compiled = self._cache.get(decision_input.policy_version)
        if compiled is None:
            raise UnknownPolicyVersion(
                "this engine does not know the policy text of that version; pass the text",
                {"policy_version": decision_input.policy_version},
            )
        return self._decide(decision_input, compiled)

    def _decide(self, decision_input: DecisionInput, compiled: CompiledPolicies) -> Decision:
        def authorize(recorded: DecisionInput) -> list[StepVerdicts]:
            results = cedarpy.is_authorized_batch(
                cedar.requests(recorded),
                compiled.for_actions(step.action for step in recorded.steps),
                cedar.entities(recorded),
                schema=self._schema,
            )
            return cedar.pair_by_step([cedar.verdict(result) for result in results])

        return decide(decision_input, authorize)
