"""The default policies of the provider actions, decided by real Cedar: reads and drafts run
alone, changing or cancelling an event waits for the person, the household's blocked
recipients cover an update's attendees, and each layer can still say otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.policy.defaults import (
    DEFAULT_POLICIES,
    HOUSEHOLD_DEFAULTS,
    PERSON_DEFAULTS_BEFORE_PROVIDER_ACTIONS,
)
from adapters.policy.engine import CedarPolicyEngine
from domain.policy.model import AutonomyLevel, Decision, Outcome, Principal
from domain.runs.plan import Plan

pytestmark = pytest.mark.unit

NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
WINDOW = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}
STEPS: dict[str, dict[str, Any]] = {
    "calendar.free_busy": WINDOW,
    "email.search": {"query": "figures"},
    "email.draft": {"to": ["sarah@example.com"], "subject": "Hi", "body": "..."},
    "calendar.update_event": {"event_id": "abc123", "start": "2026-12-01T15:00:00Z"},
    "calendar.delete_event": {"event_id": "abc123"},
}


def decide(
    engine: CedarPolicyEngine,
    action: str,
    parameters: dict[str, Any] | None = None,
    *,
    capabilities: tuple[str, ...] = ("calendar.write", "email.send"),
    policies: str = DEFAULT_POLICIES,
    household: str = HOUSEHOLD_DEFAULTS,
) -> Decision:
    given = STEPS[action] if parameters is None else parameters
    step = {"step_id": "s1", "action": action, "provider": "google", "parameters": given}
    plan = Plan.model_validate({"summary": "test", "steps": [step]})
    principal = Principal(tenant_id="acme", user_id="alice", autonomy=AutonomyLevel.MEDIUM)
    return engine.evaluate(plan, principal, capabilities, lambda: NOON, policies, household)


@pytest.mark.parametrize(
    ("action", "policy"),
    [
        ("calendar.free_busy", "calendar.free-busy-autonomous"),
        ("email.search", "email.search-autonomous"),
        ("email.draft", "email.draft-autonomous"),
    ],
)
def test_reads_and_drafts_run_alone_without_any_capability(
    engine: CedarPolicyEngine, action: str, policy: str
) -> None:
    decision = decide(engine, action, capabilities=())
    assert (decision.outcome, decision.policies) == (Outcome.APPROVE, (policy,))


@pytest.mark.parametrize("action", ["calendar.update_event", "calendar.delete_event"])
def test_changing_or_cancelling_an_event_waits_for_the_person(
    engine: CedarPolicyEngine, action: str
) -> None:
    # Even holding calendar.write, which lets a new event be created alone.
    decision = decide(engine, action)
    assert decision.outcome is Outcome.ESCALATE
    assert decision.policies == ("calendar.change-with-approval",)


def test_an_update_inviting_a_blocked_address_is_denied_by_the_household(
    engine: CedarPolicyEngine,
) -> None:
    household = HOUSEHOLD_DEFAULTS.replace("blocked@blocked.invalid", "rival@rival.example")
    invite = {"event_id": "abc123", "attendees": ["Rival@Rival.example"]}
    decision = decide(engine, "calendar.update_event", invite, household=household)
    assert decision.outcome is Outcome.DENY and decision.decided_by == "household"
    assert decision.policies == ("household.blocked-recipients",)
    # An update that leaves the attendees alone is not caught by it.
    moved = decide(engine, "calendar.update_event", household=household)
    assert moved.outcome is Outcome.ESCALATE


def test_a_person_may_let_updates_run_alone_and_the_household_may_keep_them_asked(
    engine: CedarPolicyEngine,
) -> None:
    mine = DEFAULT_POLICIES + (
        '\n@id("calendar.updates-alone")\n'
        'permit (principal, action == Action::"calendar.update_event", resource)\n'
        "when { context.holds_capability };\n"
    )
    assert decide(engine, "calendar.update_event", policies=mine).outcome is Outcome.APPROVE
    guarded = HOUSEHOLD_DEFAULTS + (
        '\n@id("household.reads-asked")\n'
        'forbid (principal, action == Action::"email.search", resource)\n'
        'when { context.mode == "autonomous" };\n'
    )
    asked = decide(engine, "email.search", household=guarded)
    assert asked.outcome is Outcome.ESCALATE and "household.reads-asked" in asked.policies


@pytest.mark.parametrize("action", sorted(STEPS))
def test_a_person_keeping_the_older_defaults_is_denied_the_new_actions_by_default(
    engine: CedarPolicyEngine, action: str
) -> None:
    # Their stored text names none of them: deny by default until they add a permit.
    decision = decide(engine, action, policies=PERSON_DEFAULTS_BEFORE_PROVIDER_ACTIONS)
    assert decision.outcome is Outcome.DENY and decision.denied_by_default


def test_the_new_defaults_only_add_to_the_older_ones() -> None:
    assert DEFAULT_POLICIES.startswith(PERSON_DEFAULTS_BEFORE_PROVIDER_ACTIONS)
