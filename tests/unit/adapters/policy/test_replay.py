"""Replaying a recorded decision input gives the same decision, on any engine instance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import cedarpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.policy import cedar
from adapters.policy.defaults import (
    DEFAULT_POLICIES,
    HOUSEHOLD_DEFAULTS,
    PERSON_DEFAULTS_BEFORE_HOUSEHOLD,
)
from adapters.policy.engine import CedarPolicyEngine
from adapters.policy.schema import SCHEMA_TEXT
from adapters.policy.validation import policy_ids
from commands.ports.policy import PolicyEngine
from domain.errors import InvalidInput
from domain.policy.combine import StepVerdicts, decide
from domain.policy.inputs import RESOURCE_TYPES
from domain.policy.model import (
    AutonomyLevel,
    Decision,
    DecisionInput,
    Outcome,
    Principal,
    ResourceRef,
    StepInput,
    UnknownPolicyVersion,
    Verdict,
    policy_version,
)
from domain.runs.actions import CATALOGUE

pytestmark = pytest.mark.unit

VERSION = policy_version(DEFAULT_POLICIES)
HOUSEHOLD_VERSION = policy_version(HOUSEHOLD_DEFAULTS)
# Decisions recorded before the household layer existed name this text and no household.
LEGACY_VERSION = policy_version(PERSON_DEFAULTS_BEFORE_HOUSEHOLD)
TEXTS = {VERSION: DEFAULT_POLICIES, LEGACY_VERSION: PERSON_DEFAULTS_BEFORE_HOUSEHOLD}
SHARED = CedarPolicyEngine()
CAPABILITIES = [
    "calendar.write",
    "email.send",
    "notes.write",
    "reminders.write",
    "payments.up_to:0",
    "payments.up_to:50",
    "payments.up_to:2000",
]
EMAILS = ["bob@example.com", "ann@corp.example", "x@rival.example"] + [
    f"p{i}@example.com" for i in range(12)
]


@st.composite
def steps(draw: st.DrawFn, step_id: str) -> StepInput:
    # Mostly catalogue actions, sometimes one Cedar does not know (which must deny, stably).
    action = draw(st.sampled_from([*sorted(CATALOGUE), "files.delete_all"]))
    spec = CATALOGUE.get(action)
    amount = currency = None
    if spec is not None and spec.amount_field is not None:
        amount = draw(st.decimals(Decimal("0.01"), Decimal("5000"), places=2))
        currency = draw(st.sampled_from(["EUR", "USD", "JPY"]))
    return StepInput(
        step_id=step_id,
        action=action,
        provider="p",
        resource=ResourceRef(type=RESOURCE_TYPES.get(action, "Notebook"), id="p"),
        capability=spec.capability if spec else None,
        amount=amount,
        currency=currency,
        recipients=tuple(draw(st.lists(st.sampled_from(EMAILS), max_size=14))),
    )


@st.composite
def decision_inputs(draw: st.DrawFn) -> DecisionInput:
    instant = draw(st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC)))
    offset = timezone(timedelta(minutes=15 * draw(st.integers(-48, 56))))
    count = draw(st.integers(1, 4))
    layered = draw(st.booleans())  # decided with the household layer, or recorded before it
    return DecisionInput(
        principal=Principal(
            tenant_id="acme",
            user_id=draw(st.sampled_from(["alice", "bob"])),
            device_id=draw(st.sampled_from([None, "phone"])),
            autonomy=draw(st.sampled_from(list(AutonomyLevel))),
        ),
        capabilities=tuple(draw(st.lists(st.sampled_from(CAPABILITIES), unique=True))),
        steps=tuple(draw(steps(f"s{i}")) for i in range(1, count + 1)),
        clock_utc=instant,
        local_time=instant.astimezone(offset),
        policy_version=VERSION if layered else LEGACY_VERSION,
        schema_version=SHARED.schema_version,
        household_version=HOUSEHOLD_VERSION if layered else None,
    )


def decided(engine: CedarPolicyEngine, decision_input: DecisionInput) -> Decision:
    household = HOUSEHOLD_DEFAULTS if decision_input.household_version else None
    return engine.decide(decision_input, TEXTS[decision_input.policy_version], household)


FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(decision_inputs())
def test_replay_of_the_recorded_input_is_the_same_decision(decision_input: DecisionInput) -> None:
    decision = decided(SHARED, decision_input)
    # What a PolicyDecided event stores, read back as an auditor would.
    recorded = DecisionInput.model_validate_json(decision.input.model_dump_json())
    replayed = SHARED.replay(recorded)
    assert replayed == decision
    assert (replayed.outcome, replayed.policies) == (decision.outcome, decision.policies)


@FAST
@given(decision_inputs())
def test_the_defaults_hold_their_promises(decision_input: DecisionInput) -> None:
    decision = decided(SHARED, decision_input)
    cap = "household.payments-hard-cap" if decision_input.household_version else "payments.hard-cap"
    for step in decision.steps:
        if step.action not in CATALOGUE:
            assert step.outcome is Outcome.DENY and step.errors
        elif step.action in ("notes.create", "reminders.create"):
            assert step.outcome is Outcome.APPROVE
        elif step.action == "payments.send":
            (recorded,) = [s for s in decision_input.steps if s.step_id == step.step_id]
            assert recorded.amount is not None
            if recorded.amount > 1000:
                assert step.outcome is Outcome.DENY
                assert cap in step.policies
            else:
                assert step.outcome in (Outcome.APPROVE, Outcome.ESCALATE)
        assert step.outcome is Outcome.DENY or step.policies, "a decision names its policies"


@settings(FAST, max_examples=30)
@given(decision_inputs())
def test_two_fresh_engines_decide_alike(decision_input: DecisionInput) -> None:
    first = decided(CedarPolicyEngine(), decision_input)
    second = decided(CedarPolicyEngine(), decision_input)
    assert first == second


EXTRA_POLICIES = """
@id("extra.any-action-from-the-phone-at-3")
forbid (principal, action, resource)
when { context has device && context.device == Device::"phone" && context.local_hour == 3 };
@id("extra.listed-actions-on-saturdays")
permit (principal, action in [Action::"email.send", Action::"notes.create"], resource)
when { context.autonomy == 3 && context.local_weekday == 6 };
"""


@FAST
@given(decision_inputs())
def test_slicing_policies_by_action_changes_no_decision(decision_input: DecisionInput) -> None:
    # Given the full text parsed as one set, the way plain cedarpy would use it
    text = DEFAULT_POLICIES + EXTRA_POLICIES
    recorded = decision_input.model_copy(
        update={"policy_version": policy_version(text), "household_version": None}
    )
    full_set, ids = cedarpy.PolicySet.from_str(text), policy_ids(text)

    def unsliced(answered: DecisionInput) -> list[StepVerdicts]:
        results = cedarpy.is_authorized_batch(
            cedar.requests(answered), full_set, cedar.entities(answered), schema=SCHEMA_TEXT
        )
        return cedar.pair_by_step(
            [
                Verdict(
                    allowed=r.allowed,
                    policies=tuple(sorted(ids.name(p) for p in r.diagnostics.reasons)),
                    errors=tuple(sorted(ids.rename(e) for e in r.diagnostics.errors)),
                )
                for r in results
            ]
        )

    # Then the engine's sliced sets decide exactly alike, reasons and errors included
    assert SHARED.decide(recorded, text) == decide(recorded, unsliced)


def test_a_fresh_engine_replays_with_the_recorded_text_only() -> None:
    decision = SHARED.decide(
        DecisionInput(
            principal=Principal(tenant_id="acme", user_id="alice"),
            steps=(
                StepInput(
                    step_id="s1",
                    action="payments.send",
                    provider="stripe",
                    resource=ResourceRef(type="PaymentAccount", id="stripe"),
                    capability="payments.up_to",
                    amount=Decimal("5000"),
                    currency="EUR",
                ),
            ),
            clock_utc=datetime(2026, 1, 1, 12, tzinfo=UTC),
            local_time=datetime(2026, 1, 1, 12, tzinfo=UTC),
            policy_version=VERSION,
            schema_version=SHARED.schema_version,
            household_version=HOUSEHOLD_VERSION,
        ),
        DEFAULT_POLICIES,
        HOUSEHOLD_DEFAULTS,
    )
    fresh = CedarPolicyEngine()
    with pytest.raises(UnknownPolicyVersion):
        fresh.replay(decision.input)
    with pytest.raises(UnknownPolicyVersion):
        fresh.replay(decision.input, DEFAULT_POLICIES)  # the household text is missing
    with pytest.raises(InvalidInput, match="not the version"):
        fresh.replay(decision.input, DEFAULT_POLICIES + "\n", HOUSEHOLD_DEFAULTS)
    with pytest.raises(InvalidInput, match="not the version"):
        fresh.replay(decision.input, DEFAULT_POLICIES, HOUSEHOLD_DEFAULTS + "\n")
    assert fresh.replay(decision.input, DEFAULT_POLICIES, HOUSEHOLD_DEFAULTS) == decision
    assert decision.policies == ("household.payments-hard-cap",)
    assert decision.decided_by == "household"


def test_parsed_policy_sets_are_cached_per_version_and_evicted_oldest_first() -> None:
    engine = CedarPolicyEngine(cache_size=1)
    first = engine.compile(DEFAULT_POLICIES)
    assert engine.compile(DEFAULT_POLICIES) is first
    engine.compile(DEFAULT_POLICIES + "// edited\n")
    assert engine.compile(DEFAULT_POLICIES) is not first


def test_the_engine_implements_the_port() -> None:
    engine: PolicyEngine = CedarPolicyEngine()
    assert engine.accept(DEFAULT_POLICIES) == VERSION
