"""The Cedar policy engine: validate a policy text, decide a plan, replay a recorded decision.

Parsing 200 policies costs tens of milliseconds; evaluating against a parsed set costs a
fraction of one. So a text is validated and parsed once, on first sight, and the parsed sets
are cached under its sha256 (the policy version) for every later decision and replay. All the
requests of a plan (two per step) go to Cedar in one batch call per layer, serialised once for
both layers.

Cedar's answers are a pure function of the policy set, the schema and the requests and
entities it is given, so they are cached too (decision 0046), keyed on the layer, the policy
version and the exact JSON text of the requests and entities: a key names the tenant, the
person, their device and capabilities, each step's action, resource and context (mode, local
hour and weekday, amounts, recipients), and an upstream tool's facts. A changed policy text is
another version; nothing else feeds Cedar. The decision built from cached answers is the one
Cedar would give, input and all.

Household guardrails are forbid-only; they are evaluated with one implicit permit of
everything (the ceiling), so "allowed" there means "no guardrail objects". The ceiling is not
named in decisions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import cedarpy

from adapters.policy import cedar
from adapters.policy.answers import AnswerCache
from adapters.policy.changes import only_narrows
from adapters.policy.compiled import CompiledPolicies
from adapters.policy.defaults import default_household, default_policies
from adapters.policy.schema import SCHEMA_TEXT
from adapters.policy.validation import layer_problems, static_policies, validate_policies
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
    UpstreamTool,
    Verdict,
    policy_version,
)
from domain.runs.actions import CATALOGUE, UPSTREAM_ACTION
from domain.runs.plan import Plan

# Cannot be the @id of a household guardrail: those start with "household.".
CEILING_ID = "cairn:household-ceiling"
_CEILING: dict[str, Any] = {
    "effect": "permit",
    "principal": {"op": "All"},
    "action": {"op": "All"},
    "resource": {"op": "All"},
    "conditions": [],
    "annotations": {"id": CEILING_ID},
}


class CedarPolicyEngine:
    """Implements `commands.ports.policy.PolicyEngine` with cedarpy. Safe to share across
    threads: cached handles are immutable and the cache is guarded by a lock."""

    def __init__(
        self,
        schema_text: str = SCHEMA_TEXT,
        *,
        cache_size: int = 64,
        actions: Iterable[str] = (*CATALOGUE, UPSTREAM_ACTION),
        answers_cache_size: int = 4096,
    ) -> None:
        self._schema = cedarpy.Schema.from_str(schema_text)
        self._actions = frozenset(actions)  # the schema's actions, for slicing policy sets
        self.schema_version = policy_version(schema_text)
        self._cache_size = cache_size
        # Keyed by (household?, version): the same text means something else in each layer.
        self._cache: OrderedDict[tuple[bool, str], CompiledPolicies] = OrderedDict()
        # The same, by (household?, text): a known text needs no sha256 (which, on a text this
        # long, also lets go of the GIL and queues for it again).
        self._by_text: dict[tuple[bool, str], CompiledPolicies] = {}
        self._answers = AnswerCache(answers_cache_size)
        self._lock = threading.Lock()

    # Policy texts

    def default_policies(self, tenant_id: str) -> str:
        return default_policies(tenant_id)

    def default_household(self, tenant_id: str) -> str:
        return default_household(tenant_id)

    def validate(self, policy_text: str, *, household: bool = False) -> list[PolicyProblem]:
        problems = validate_policies(policy_text, self._schema)
        return problems or layer_problems(policy_text, household)

    def accept(self, policy_text: str, *, household: bool = False) -> str:
        """The text's version if it is valid for its layer; else `InvalidPolicies` listing every
        problem."""
        compiled = self.compile(policy_text, household=household)
        # Compiling checked the household's rules; a person's are checked for changes only.
        problems = [] if household else layer_problems(policy_text, household=False)
        if problems:
            raise InvalidPolicies.from_problems(problems)
        return compiled.version

    def only_narrows(self, current_text: str, new_text: str) -> bool:
        return only_narrows(current_text, new_text)

    def compile(self, policy_text: str, *, household: bool = False) -> CompiledPolicies:
        with self._lock:
            compiled = self._by_text.get((household, policy_text))
            if compiled is not None:
                self._cache.move_to_end((household, compiled.version))
                return compiled
        version = policy_version(policy_text)
        key = (household, version)
        with self._lock:
            compiled = self._cache.get(key)
            if compiled is not None:
                self._cache.move_to_end(key)
                return compiled
        # A person's stored text is not held to the layer rules it may predate.
        if household:
            problems = self.validate(policy_text, household=True)
        else:
            problems = validate_policies(policy_text, self._schema)
        if problems:
            raise InvalidPolicies.from_problems(problems)
        policies = static_policies(policy_text)
        if household:
            policies[CEILING_ID] = _CEILING
        compiled = CompiledPolicies(version, policy_text, policies, self._actions)
        with self._lock:
            self._cache[key] = compiled
            self._by_text[(household, policy_text)] = compiled
            while len(self._cache) > self._cache_size:
                (evicted_household, _), evicted = self._cache.popitem(last=False)
                self._by_text.pop((evicted_household, evicted.text), None)
        return compiled

    # Decisions

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
        """Read the clock once, record every input, and decide the plan."""
        compiled = self.compile(policy_text)
        guard = None if household_text is None else self.compile(household_text, household=True)
        decision_input = decision_input_for(
            plan, principal, capabilities, clock, compiled.version, self.schema_version, upstream
        )
        if guard is not None:
            decision_input = decision_input.model_copy(update={"household_version": guard.version})
        return self._decide(decision_input, compiled, guard)

    def decide(
        self, decision_input: DecisionInput, policy_text: str, household_text: str | None = None
    ) -> Decision:
        """Decide an already recorded input (a dry run, or a replay with the texts at hand)."""
        compiled = self._recorded(decision_input.policy_version, policy_text, household=False)
        guard = None
        if decision_input.household_version is not None:
            if household_text is None:
                guard = self._cached(decision_input.household_version, household=True)
            else:
                guard = self._recorded(
                    decision_input.household_version, household_text, household=True
                )
        return self._decide(decision_input, compiled, guard)

    def replay(
        self,
        decision_input: DecisionInput,
        policy_text: str | None = None,
        household_text: str | None = None,
    ) -> Decision:
        """Recompute a recorded decision from its input alone.

        The input names its policy texts by hash (the household's too, when it was decided with
        one). A text not given must be one this engine has compiled (and still caches); the
        caller otherwise passes the text of the event with that hash, and it is checked
        against the hash.
        """
        if policy_text is not None:
            return self.decide(decision_input, policy_text, household_text)
        compiled = self._cached(decision_input.policy_version, household=False)
        return self.decide(decision_input, compiled.text, household_text)

    def _recorded(self, version: str, text: str, *, household: bool) -> CompiledPolicies:
        compiled = self.compile(text, household=household)
        if compiled.version != version:
            raise InvalidInput(
                "the policy text is not the version the decision input records",
                {"recorded": version, "given": compiled.version},
            )
        return compiled

    def _cached(self, version: str, *, household: bool) -> CompiledPolicies:
        with self._lock:
            compiled = self._cache.get((household, version))
        if compiled is None:
            raise UnknownPolicyVersion(
                "this engine does not know the policy text of that version; pass the text",
                {"policy_version": version},
            )
        return compiled

    def _decide(
        self,
        decision_input: DecisionInput,
        compiled: CompiledPolicies,
        guard: CompiledPolicies | None = None,
    ) -> Decision:
        call = cedar.call_for(decision_input)
        return decide(
            decision_input,
            self._authorizer(call, decision_input, compiled, household=False),
            None
            if guard is None
            else self._authorizer(call, decision_input, guard, household=True),
        )

    def _authorizer(
        self,
        call: cedar.CedarCall,
        decision_input: DecisionInput,
        compiled: CompiledPolicies,
        *,
        household: bool,
    ) -> Callable[[DecisionInput], Sequence[StepVerdicts]]:
        def authorize(recorded: DecisionInput) -> Sequence[StepVerdicts]:
            asked = call if recorded is decision_input else cedar.call_for(recorded)
            key = (household, compiled.version, asked.key)
            found = self._answers.get(key)
            if found is None:
                found = self._answers.put(key, self._ask_cedar(asked, compiled, household))
            return found

        return authorize

    def _ask_cedar(
        self, call: cedar.CedarCall, compiled: CompiledPolicies, household: bool
    ) -> list[StepVerdicts]:
        results = cedarpy.is_authorized_batch(
            call.requests, compiled.for_actions(call.actions), call.entities, schema=self._schema
        )
        answer = _without_ceiling if household else _as_is
        return cedar.pair_by_step([answer(cedar.verdict(result)) for result in results])


def _as_is(verdict: Verdict) -> Verdict:
    return verdict


def _without_ceiling(verdict: Verdict) -> Verdict:
    """A guardrail layer's answer names the guardrails that objected, never the ceiling."""
    if CEILING_ID not in verdict.policies:
        return verdict
    kept = tuple(p for p in verdict.policies if p != CEILING_ID)
    return verdict.model_copy(update={"policies": kept})
