"""The recorded decision input: built from a plan with one clock reading, and it round-trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput
from domain.policy.inputs import RESOURCE_TYPES, decision_input_for, step_facts
from domain.policy.model import (
    AutonomyLevel,
    DecisionInput,
    Principal,
    ResourceRef,
    StepInput,
    policy_version,
)
from domain.runs.actions import CATALOGUE
from domain.runs.plan import Plan

pytestmark = pytest.mark.unit

VERSION = policy_version("")
PLAN = Plan.model_validate(
    {
        "summary": "Pay Bob and tell him",
        "steps": [
            {
                "step_id": "s1",
                "action": "payments.send",
                "provider": "stripe",
                "parameters": {"recipient": "Bob", "amount": "12.5", "currency": "EUR"},
            },
            {
                "step_id": "s2",
                "action": "email.send",
                "provider": "gmail",
                "parameters": {
                    "to": ["Bob@Example.com", "bob@example.com", "ann@corp.example"],
                    "subject": "Paid",
                    "body": "Sent you 12.50",
                },
            },
        ],
    }
)
PRINCIPAL = Principal(
    tenant_id="acme",
    user_id="alice",
    device_id="phone",
    autonomy=AutonomyLevel.HIGH,
    timezone="Europe/Berlin",
)


def given_input() -> DecisionInput:
    return decision_input_for(
        PLAN,
        PRINCIPAL,
        ["payments.up_to:50", "email.send"],
        lambda: datetime(2026, 7, 3, 21, 30, tzinfo=UTC),
        VERSION,
        VERSION,
    )


def test_every_catalogue_action_has_a_resource_type() -> None:
    assert set(RESOURCE_TYPES) == set(CATALOGUE)


def test_the_clock_is_read_once_and_recorded_as_utc_and_local_wall_time() -> None:
    calls: list[int] = []

    def clock() -> datetime:
        calls.append(1)
        return datetime(2026, 7, 3, 21, 30, tzinfo=UTC)

    decision_input = decision_input_for(PLAN, PRINCIPAL, [], clock, VERSION, VERSION)
    assert calls == [1]
    assert decision_input.clock_utc == datetime(2026, 7, 3, 21, 30, tzinfo=UTC)
    # Berlin is UTC+2 in July: 23:30 on a Friday.
    assert decision_input.local_time.isoformat() == "2026-07-03T23:30:00+02:00"
    assert (decision_input.local_hour, decision_input.local_weekday) == (23, 5)


def test_plan_steps_become_step_inputs_with_amount_recipients_and_capability() -> None:
    payment, email = given_input().steps
    assert payment.resource == ResourceRef(type="PaymentAccount", id="stripe")
    assert payment.capability == "payments.up_to"
    assert (payment.amount, payment.currency, payment.amount_cents) == (
        Decimal("12.5"),
        "EUR",
        1250,
    )
    assert payment.recipients == ("bob",)
    assert email.recipients == ("ann@corp.example", "bob@example.com")
    assert email.amount is None


def test_facts_are_derived_from_the_recorded_input_only() -> None:
    decision_input = given_input()
    payment, email = decision_input.steps
    facts = step_facts(decision_input, payment)
    assert facts.holds_capability  # 12.50 is within payments.up_to:50
    assert (facts.local_hour, facts.autonomy, facts.device_id) == (23, 3, "phone")
    assert step_facts(decision_input, email).recipient_domains == ("corp.example", "example.com")


def test_the_input_round_trips_through_json_unchanged() -> None:
    decision_input = given_input()
    again = DecisionInput.model_validate_json(decision_input.model_dump_json())
    assert again == decision_input
    assert again.local_hour == decision_input.local_hour


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(InvalidInput, match="aware"):
        decision_input_for(PLAN, PRINCIPAL, [], lambda: datetime(2026, 1, 1), VERSION, VERSION)


def test_an_unknown_time_zone_is_refused() -> None:
    principal = PRINCIPAL.model_copy(update={"timezone": "Mars/Olympus"})
    with pytest.raises(InvalidInput, match="time zone"):
        decision_input_for(PLAN, principal, [], lambda: datetime.now(UTC), VERSION, VERSION)


def test_local_time_must_be_the_recorded_instant() -> None:
    later = datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValidationError, match="same instant"):
        DecisionInput.model_validate({**given_input().model_dump(), "local_time": later})


def test_malformed_capabilities_are_refused_before_they_reach_a_decision() -> None:
    with pytest.raises(InvalidInput):
        DecisionInput.model_validate({**given_input().model_dump(), "capabilities": ["Bad"]})


def test_an_amount_needs_a_currency() -> None:
    with pytest.raises(ValidationError, match="currency"):
        StepInput(
            step_id="s1",
            action="payments.send",
            provider="stripe",
            resource=ResourceRef(type="PaymentAccount", id="stripe"),
            amount=Decimal(5),
        )
