"""Upstream MCP tools before the policy (decision 0035): one Cedar action `mcp.call` on an
`McpTool` entity per tool; the default escalates an approved tool and permits nothing else;
a person's permit can let one tool run alone; the recorded input replays alike."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from adapters.policy.defaults import HOUSEHOLD_DEFAULTS, PERSON_DEFAULTS
from adapters.policy.engine import CedarPolicyEngine
from commands.mcp.upstream_actions import check_arguments, tool_facts
from commands.ports.mcp_upstream import PinnedTool, UpstreamServer, tool_hash
from domain.policy.inputs import UnknownUpstreamTool
from domain.policy.model import Outcome, Principal, UpstreamTool
from domain.runs.actions import InvalidParameters, parse_upstream_action, policy_action
from domain.runs.plan import Plan

pytestmark = pytest.mark.unit
SERVER = "0123456789abcdef0123456789abcdef"
ACTION = f"mcp.{SERVER}.weather"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
PIN = PinnedTool(SERVER, "weather", "c" * 64, "c" * 64, "The weather.", SCHEMA)
MINE = """\
@id("weather.alone")
permit (principal, action == Action::"mcp.call", resource)
when { resource.tool == "weather" && resource.approval == "approved" };

@id("never-destructive-tools-alone")
forbid (principal, action == Action::"mcp.call", resource)
when { context.mode == "autonomous" && resource.destructive_hint };
"""


def plan() -> Plan:
    step = {"step_id": "s1", "action": ACTION, "provider": "mcp", "parameters": {"city": "Oslo"}}
    return Plan.model_validate({"summary": "Weather", "steps": [step]})


def tool(approval: str = "approved", **hints: bool) -> UpstreamTool:
    facts = {"server_id": SERVER, "server_name": "Weather", "tool": "weather", "hash": "a" * 64}
    return UpstreamTool(**facts, approval=approval, **hints)  # type: ignore[arg-type]


def decide(policies: str, facts: UpstreamTool | None) -> tuple[Outcome, tuple[str, ...]]:
    engine = CedarPolicyEngine()
    decision = engine.evaluate(
        plan(),
        Principal(tenant_id="t", user_id="u"),
        [],
        lambda: datetime(2026, 12, 1, 12, tzinfo=UTC),
        policies,
        HOUSEHOLD_DEFAULTS,
        upstream={} if facts is None else {ACTION: facts},
    )
    assert engine.replay(decision.input, policies, HOUSEHOLD_DEFAULTS) == decision
    return decision.outcome, decision.policies


def test_names_map_to_the_one_cedar_action() -> None:
    assert parse_upstream_action(ACTION) == (SERVER, "weather")
    assert parse_upstream_action(f"mcp.{SERVER}.a.b-c_d") == (SERVER, "a.b-c_d")
    assert parse_upstream_action("mcp.short.weather") is None
    assert policy_action(ACTION) == "mcp.call"
    assert policy_action("payments.send") == "payments.send"


def test_the_default_escalates_an_approved_tool_and_permits_no_other() -> None:
    assert decide(PERSON_DEFAULTS, tool()) == (Outcome.ESCALATE, ("mcp.with-approval",))
    assert decide(PERSON_DEFAULTS, tool("quarantined"))[0] is Outcome.DENY
    assert decide(PERSON_DEFAULTS, tool("pending"))[0] is Outcome.DENY


def test_a_persons_permit_runs_it_alone_and_the_upstreams_hints_can_narrow() -> None:
    assert decide(MINE, tool(destructive_hint=False)) == (Outcome.APPROVE, ("weather.alone",))
    # The spec's default: a tool is destructive unless its upstream says otherwise; the
    # forbid on running alone leaves it to the person.
    assert decide(MINE, tool()) == (
        Outcome.ESCALATE,
        ("never-destructive-tools-alone", "weather.alone"),
    )


def test_a_plan_naming_an_unknown_tool_is_not_decided() -> None:
    with pytest.raises(UnknownUpstreamTool):
        decide(PERSON_DEFAULTS, None)


def test_facts_take_the_spec_defaults_for_missing_hints() -> None:
    server = UpstreamServer(SERVER, "u", "Weather", "https://w.example/mcp", "none")
    facts = tool_facts(server, PIN)
    assert (facts.read_only_hint, facts.destructive_hint) == (False, True)
    assert (facts.idempotent_hint, facts.open_world_hint) == (False, True)
    hints = {"readOnlyHint": True, "destructiveHint": False, "openWorldHint": False}
    hinted = tool_facts(server, dataclasses.replace(PIN, annotations=hints, listed_hash="b" * 64))
    assert (hinted.read_only_hint, hinted.destructive_hint, hinted.open_world_hint) == (
        True,
        False,
        False,
    )
    assert hinted.approval == "quarantined"  # listed another text than the approved one


def test_hints_are_pinned_but_a_tool_without_them_keeps_its_hash() -> None:
    plain = tool_hash("weather", "The weather.", SCHEMA)
    assert tool_hash("weather", "The weather.", SCHEMA, {}) == plain
    assert tool_hash("weather", "The weather.", SCHEMA, {"readOnlyHint": True}) != plain


def test_arguments_are_checked_against_the_pinned_schema() -> None:
    check_arguments(PIN, {"city": "Oslo"})
    with pytest.raises(InvalidParameters) as refused:
        check_arguments(PIN, {"town": "Oslo"})
    assert refused.value.details["errors"][0]["message"] == "'city' is a required property"
