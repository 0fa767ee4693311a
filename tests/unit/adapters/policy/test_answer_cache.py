"""Cedar's answers are cached per layer, policy version and exact Cedar input (decision 0046):
a cached decision is the decision Cedar gives, and nothing that can change an answer (tenant,
person, device, capabilities, time, amounts, recipients, an upstream tool's facts, the policy
text, the layer) is ever answered from another input's entry."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import cedarpy
import pytest

from adapters.policy.answers import AnswerCache
from adapters.policy.defaults import HOUSEHOLD_DEFAULTS, PERSON_DEFAULTS
from adapters.policy.engine import CedarPolicyEngine
from domain.policy.model import (
    AutonomyLevel,
    Decision,
    Outcome,
    Principal,
    UpstreamTool,
    Verdict,
)
from domain.runs.plan import Plan
from tests.unit.mcp.test_upstream_policy import ACTION as TOOL_ACTION
from tests.unit.mcp.test_upstream_policy import MINE as TOOLS_ALONE
from tests.unit.mcp.test_upstream_policy import SERVER

pytestmark = pytest.mark.unit

NOON = datetime(2026, 12, 1, 12, tzinfo=UTC)
NIGHT = datetime(2026, 12, 1, 2, tzinfo=UTC)
TENANT_A_BLOCKED = """\
@id("notes.autonomous")
permit (principal, action == Action::"notes.create", resource);

@id("tenant-a.no-notes")
forbid (principal in Tenant::"t-a", action == Action::"notes.create", resource);
"""
HOUSEHOLD_ONLY = """\
@id("household.no-payments")
forbid (principal, action == Action::"payments.send", resource);
"""


def plan(*steps: dict[str, Any]) -> Plan:
    numbered = [{"step_id": f"s{i}", **step} for i, step in enumerate(steps, start=1)]
    return Plan.model_validate({"summary": "cached", "steps": numbered})


def payment(amount: str, recipient: str = "payee") -> dict[str, Any]:
    parameters = {"recipient": recipient, "amount": amount, "currency": "EUR"}
    return {"action": "payments.send", "provider": "stripe", "parameters": parameters}


def email(*to: str) -> dict[str, Any]:
    parameters = {"to": list(to), "subject": "Hi", "body": "Hello"}
    return {"action": "email.send", "provider": "gmail", "parameters": parameters}


NOTE = {"action": "notes.create", "provider": "local", "parameters": {"title": "t", "body": "b"}}
TOOL = {"action": TOOL_ACTION, "provider": "mcp", "parameters": {"city": "Oslo"}}


def tool(**facts: Any) -> dict[str, UpstreamTool]:
    known = {"server_id": SERVER, "server_name": "Weather", "tool": "weather", "hash": "a" * 64}
    return {TOOL_ACTION: UpstreamTool(**{**known, "approval": "approved", **facts})}


Ask = Callable[[CedarPolicyEngine], Decision]


def ask(
    steps: tuple[dict[str, Any], ...],
    principal: Principal,
    capabilities: tuple[str, ...] = (),
    moment: datetime = NOON,
    policies: str = PERSON_DEFAULTS,
    household: str | None = HOUSEHOLD_DEFAULTS,
    upstream: dict[str, UpstreamTool] | None = None,
) -> Ask:
    def decided(engine: CedarPolicyEngine) -> Decision:
        return engine.evaluate(
            plan(*steps),
            principal,
            capabilities,
            lambda: moment,
            policies,
            household,
            upstream=upstream,
        )

    return decided


ADA = Principal(tenant_id="t-a", user_id="ada", device_id="phone")
CASES: list[Ask] = [
    ask((payment("40.00"),), ADA, ("payments.up_to:50",)),
    ask((payment("60.00"),), ADA, ("payments.up_to:50",)),  # above the person's limit
    ask((payment("40.00"),), ADA, ("payments.up_to:50",), NIGHT),  # at night: the person
    ask((payment("40.00"),), ADA),  # no capability
    ask((payment("2000.00"),), ADA, ("payments.up_to:5000",)),  # the household's hard cap
    ask((payment("40.00"),), ADA.model_copy(update={"device_id": None}), ("payments.up_to:50",)),
    ask((email("bob@example.com"),), ADA, ("email.send",)),
    ask((email("bob@example.com"),), ADA.model_copy(update={"autonomy": AutonomyLevel.HIGH})),
    ask(
        (email("bob@example.com"),),
        ADA.model_copy(update={"autonomy": AutonomyLevel.HIGH}),
        ("email.send",),
    ),
    ask((email(*(f"p{i}@example.com" for i in range(11))),), ADA, ("email.send",)),
    ask((NOTE,), ADA),
    ask((NOTE,), ADA, policies=TENANT_A_BLOCKED),
    ask((NOTE,), Principal(tenant_id="t-b", user_id="ada"), policies=TENANT_A_BLOCKED),
    ask((NOTE, payment("40.00")), ADA, ("payments.up_to:50",)),
    ask((TOOL,), ADA, policies=TOOLS_ALONE, upstream=tool(destructive_hint=False)),
    ask((TOOL,), ADA, policies=TOOLS_ALONE, upstream=tool()),
    ask((TOOL,), ADA, policies=TOOLS_ALONE, upstream=tool(approval="quarantined")),
    ask((payment("40.00"),), ADA, ("payments.up_to:50",), household=HOUSEHOLD_ONLY),
    ask((payment("40.00"),), ADA, ("payments.up_to:50",), household=None),
    # The same text as a person's policies (forbids only: nothing permitted) and as the
    # household's guardrails (everything the forbids leave): one text, two layers.
    ask((payment("40.00"),), ADA, policies=HOUSEHOLD_ONLY, household=HOUSEHOLD_ONLY),
    ask((NOTE,), ADA, policies=HOUSEHOLD_ONLY, household=HOUSEHOLD_ONLY),
]


def test_cached_decisions_are_the_decisions_cedar_gives_in_any_order() -> None:
    uncached = CedarPolicyEngine(answers_cache_size=0)
    expected = [case(uncached) for case in CASES]
    # The cases tell each other apart: outcomes and reasons vary across them.
    assert len({(d.outcome, d.policies) for d in expected}) >= 8
    assert {d.outcome for d in expected} == set(Outcome)
    for order in (
        CASES,
        CASES[::-1],
        [c for pair in zip(CASES, CASES[::-1], strict=True) for c in pair],
    ):
        cached = CedarPolicyEngine()
        for case in itertools.chain(order, order):  # the second round is answered from cache
            assert case(cached) == expected[CASES.index(case)]


def test_the_same_person_and_plan_in_another_tenant_is_asked_again() -> None:
    engine = CedarPolicyEngine()
    in_a = ask((NOTE,), ADA, policies=TENANT_A_BLOCKED)
    # Only the tenant differs (a User entity's parent), not the requests.
    in_b = ask((NOTE,), ADA.model_copy(update={"tenant_id": "t-b"}), policies=TENANT_A_BLOCKED)
    for _ in range(2):
        assert in_b(engine).outcome is Outcome.APPROVE
        assert in_a(engine).policies == ("tenant-a.no-notes",)
        assert in_a(engine).outcome is Outcome.DENY


def test_a_changed_policy_text_is_asked_again(cedar_calls: list[int]) -> None:
    engine = CedarPolicyEngine()
    before = ask((NOTE,), ADA)
    after = ask((NOTE,), ADA, policies=PERSON_DEFAULTS + TENANT_A_BLOCKED.split("\n\n")[1])
    assert before(engine).outcome is Outcome.APPROVE
    assert after(engine).outcome is Outcome.DENY
    assert before(engine).outcome is Outcome.APPROVE
    # Both layers for the first; the person's again for the second (the household's text is
    # the same); the third from the cache.
    assert len(cedar_calls) == 3


def test_cedar_is_asked_once_per_layer_for_one_input(cedar_calls: list[int]) -> None:
    engine = CedarPolicyEngine()
    first = ask((NOTE, payment("40.00")), ADA, ("payments.up_to:50",))
    first(engine)
    assert cedar_calls == [4, 4]  # one batch per layer: two requests per step
    later = [first(engine) for _ in range(3)]
    assert len(cedar_calls) == 2
    assert all(decision == later[0] for decision in later)
    # Another hour is another context: asked again.
    ask((NOTE, payment("40.00")), ADA, ("payments.up_to:50",), NIGHT)(engine)
    assert len(cedar_calls) == 4


def test_replay_of_a_cached_decision_gives_the_same_decision() -> None:
    engine = CedarPolicyEngine()
    decision = ask((payment("60.00"),), ADA, ("payments.up_to:50",))(engine)
    assert engine.replay(decision.input) == decision
    assert (
        CedarPolicyEngine(answers_cache_size=0).replay(
            decision.input, PERSON_DEFAULTS, HOUSEHOLD_DEFAULTS
        )
        == decision
    )


def test_the_answer_cache_keeps_the_most_recently_used_up_to_its_bound() -> None:
    answer = ((Verdict(allowed=True), Verdict(allowed=False)),)
    cache = AnswerCache(2)
    for name in ("a", "b"):
        cache.put((False, "v1", (name,)), answer)
    assert cache.get((False, "v1", ("a",))) == answer  # "a" is now the most recent
    cache.put((False, "v1", ("c",)), answer)
    assert cache.get((False, "v1", ("b",))) is None
    assert cache.get((True, "v1", ("a",))) is None  # the other layer is another key
    assert len(cache) == 2
    off = AnswerCache(0)
    assert off.put((False, "v1", ("a",)), answer) == answer
    assert off.get((False, "v1", ("a",))) is None
    with pytest.raises(ValueError, match="zero"):
        AnswerCache(-1)


@pytest.fixture
def cedar_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of requests of each batch the engine hands to Cedar."""
    calls: list[int] = []
    real = cedarpy.is_authorized_batch

    def counted(requests: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(requests))
        return real(requests, *args, **kwargs)

    monkeypatch.setattr(cedarpy, "is_authorized_batch", counted)
    return calls
