"""A policy text is validated against the schema before it is accepted, with clear messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.policy.defaults import DEFAULT_POLICIES, default_policies
from adapters.policy.engine import CedarPolicyEngine
from adapters.policy.schema import SCHEMA_TEXT
from adapters.policy.validation import MAX_POLICY_TEXT_BYTES
from domain.errors import InvalidInput
from domain.policy.model import InvalidPolicies, PolicyProblem, Principal, policy_version
from domain.runs.actions import CATALOGUE
from domain.runs.plan import Plan

pytestmark = pytest.mark.unit


def messages(problems: list[PolicyProblem]) -> list[str]:
    return [str(problem) for problem in problems]


def test_the_default_policies_are_valid(engine: CedarPolicyEngine) -> None:
    assert engine.validate(DEFAULT_POLICIES) == []
    assert engine.default_policies("any-tenant") == default_policies("acme") == DEFAULT_POLICIES
    assert engine.accept(DEFAULT_POLICIES) == policy_version(DEFAULT_POLICIES)


def test_the_schema_declares_every_catalogue_action() -> None:
    for name in CATALOGUE:
        assert f'action "{name}" appliesTo' in SCHEMA_TEXT


def test_an_unknown_action_is_refused_naming_the_policy(engine: CedarPolicyEngine) -> None:
    text = '@id("wipe") permit (principal, action == Action::"files.delete_all", resource);'
    problems = engine.validate(text)
    assert problems
    assert all(p.policy == "wipe" for p in problems)
    assert 'unrecognized action `Action::"files.delete_all"`' in messages(problems)[0]


def test_an_unknown_attribute_is_refused_naming_it(engine: CedarPolicyEngine) -> None:
    text = """
    @id("notes.cheap") permit (principal, action == Action::"notes.create", resource)
    when { context.amount_cents < 100 };
    @id("vip") permit (principal, action, resource) when { principal.is_vip };
    """
    found = messages(engine.validate(text))
    assert any(m.startswith("policy 'notes.cheap'") and "`amount_cents`" in m for m in found)
    assert any(m.startswith("policy 'vip'") and "`is_vip`" in m for m in found)


def test_a_type_error_is_refused(engine: CedarPolicyEngine) -> None:
    text = """@id("odd") permit (principal, action == Action::"payments.send", resource)
    when { context.amount_cents > "100" };"""
    (problem,) = engine.validate(text)
    assert problem.policy == "odd"


def test_a_text_that_does_not_parse_is_refused(engine: CedarPolicyEngine) -> None:
    (problem,) = engine.validate('@id("x") permit (principal, action, resource) when {')
    assert problem.policy is None
    assert problem.message.startswith("the policy text does not parse")


def test_every_policy_needs_a_unique_id(engine: CedarPolicyEngine) -> None:
    text = """
    permit (principal, action == Action::"notes.create", resource);
    @id("same") permit (principal, action == Action::"notes.create", resource);
    @id("same") permit (principal, action == Action::"reminders.create", resource);
    """
    first, second = engine.validate(text)
    assert first.policy == "policy0"
    assert "no @id" in first.message
    assert second.policy == "same"
    assert "used twice" in second.message


def test_templates_are_refused(engine: CedarPolicyEngine) -> None:
    (problem,) = engine.validate('@id("t") permit (principal == ?principal, action, resource);')
    assert "templates" in problem.message


def test_an_oversized_text_is_refused(engine: CedarPolicyEngine) -> None:
    (problem,) = engine.validate("// " + "x" * MAX_POLICY_TEXT_BYTES)
    assert "larger than" in problem.message


def test_accept_raises_a_400_family_error_listing_every_problem(engine: CedarPolicyEngine) -> None:
    text = """
    @id("a") permit (principal, action == Action::"files.delete_all", resource);
    @id("b") permit (principal, action, resource) when { principal.is_vip };
    """
    with pytest.raises(InvalidPolicies) as raised:
        engine.accept(text)
    error = raised.value
    assert isinstance(error, InvalidInput)
    assert error.code == "invalid_policies"
    assert {p["policy"] for p in error.details["problems"]} == {"a", "b"}
    assert "policy 'a'" in error.message


def test_an_invalid_text_never_decides_anything(engine: CedarPolicyEngine) -> None:
    plan = Plan.model_validate(
        {
            "summary": "n",
            "steps": [
                {
                    "step_id": "s1",
                    "action": "notes.create",
                    "provider": "local",
                    "parameters": {"title": "t", "body": ""},
                }
            ],
        }
    )
    principal = Principal(tenant_id="acme", user_id="alice")
    with pytest.raises(InvalidPolicies):
        engine.evaluate(plan, principal, [], lambda: datetime.now(UTC), "permit (principal,")
