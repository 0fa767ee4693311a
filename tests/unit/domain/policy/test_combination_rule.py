"""Given/When/Then tests of the combination rule, with a table-driven fake authorizer (no Cedar)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.policy.combine import decide, plan_outcome, step_outcome
from domain.policy.model import (
    Decision,
    DecisionInput,
    Layer,
    Outcome,
    Principal,
    ResourceRef,
    StepInput,
    Verdict,
)

pytestmark = pytest.mark.unit

VERSION = "0" * 64
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

permit = Verdict(allowed=True, policies=("some.permit",))
forbid = Verdict(allowed=False, policies=("some.forbid",))
nothing = Verdict(allowed=False)  # no permit matched: deny by default
broken = Verdict(allowed=False, errors=("error while evaluating policy `p`",))


def given_input(step_count: int) -> DecisionInput:
    return DecisionInput(
        principal=Principal(tenant_id="t", user_id="u"),
        steps=tuple(
            StepInput(
                step_id=f"s{i}",
                action="notes.create",
                provider="local",
                resource=ResourceRef(type="Notebook", id="local"),
            )
            for i in range(1, step_count + 1)
        ),
        clock_utc=NOW,
        local_time=NOW,
        policy_version=VERSION,
        schema_version=VERSION,
    )


# One step


def test_autonomous_permit_approves_and_names_the_permit() -> None:
    assert step_outcome(permit, permit) == (Outcome.APPROVE, ("some.permit",))


def test_permit_only_with_approval_escalates() -> None:
    assert step_outcome(nothing, permit) == (Outcome.ESCALATE, ("some.permit",))


def test_forbid_on_autonomy_escalates_and_names_both_the_forbid_and_the_permit() -> None:
    outcome, policies = step_outcome(forbid, permit)
    assert outcome is Outcome.ESCALATE
    assert policies == ("some.forbid", "some.permit")


def test_forbid_in_both_modes_denies_naming_the_forbid() -> None:
    assert step_outcome(forbid, forbid) == (Outcome.DENY, ("some.forbid",))


def test_nothing_permitted_is_denied_by_default_with_no_policy_named() -> None:
    assert step_outcome(nothing, nothing) == (Outcome.DENY, ())


@pytest.mark.parametrize("other", [permit, forbid, nothing])
def test_an_evaluation_error_denies_whatever_else_was_answered(other: Verdict) -> None:
    assert step_outcome(broken, other)[0] is Outcome.DENY
    assert step_outcome(other, broken)[0] is Outcome.DENY


# A plan


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([Outcome.APPROVE, Outcome.APPROVE], Outcome.APPROVE),
        ([Outcome.APPROVE, Outcome.ESCALATE], Outcome.ESCALATE),
        ([Outcome.ESCALATE, Outcome.DENY, Outcome.APPROVE], Outcome.DENY),
        ([], Outcome.DENY),
    ],
)
def test_plan_outcome_is_the_worst_step(outcomes: list[Outcome], expected: Outcome) -> None:
    assert plan_outcome(outcomes) is expected


@given(st.lists(st.sampled_from(list(Outcome)), min_size=1, max_size=20))
def test_plan_outcome_does_not_depend_on_step_order(outcomes: list[Outcome]) -> None:
    assert plan_outcome(outcomes) is plan_outcome(reversed(outcomes))
    severity = [Outcome.APPROVE, Outcome.ESCALATE, Outcome.DENY]
    assert plan_outcome(outcomes) is max(outcomes, key=severity.index)


def test_plan_decision_names_only_the_policies_of_the_deciding_steps() -> None:
    # Given a plan whose first step is approved and whose second is forbidden
    decision_input = given_input(2)
    answers = [(permit, permit), (forbid, forbid)]
    # When it is decided
    decision = decide(decision_input, lambda _: answers)
    # Then it is denied, by the forbid alone, and each step keeps its own story
    assert decision.outcome is Outcome.DENY
    assert decision.policies == ("some.forbid",)
    assert not decision.denied_by_default
    assert [s.outcome for s in decision.steps] == [Outcome.APPROVE, Outcome.DENY]
    assert decision.steps[0].policies == ("some.permit",)
    assert decision.input == decision_input


def test_plan_denied_only_because_nothing_permitted_is_denied_by_default() -> None:
    decision = decide(given_input(2), lambda _: [(permit, permit), (nothing, nothing)])
    assert decision.outcome is Outcome.DENY
    assert decision.denied_by_default
    assert decision.policies == ()


def test_errors_are_reported_per_step_and_are_not_a_default_deny() -> None:
    decision = decide(given_input(2), lambda _: [(permit, permit), (broken, permit)])
    assert decision.outcome is Outcome.DENY
    assert not decision.denied_by_default
    assert decision.errors == ("s2: error while evaluating policy `p`",)


def test_an_authorizer_that_skips_a_step_is_refused() -> None:
    with pytest.raises(ValueError, match="answered 1 steps for 2"):
        decide(given_input(2), lambda _: [(permit, permit)])


def test_the_same_input_and_answers_give_equal_decisions() -> None:
    answers = [(forbid, permit), (permit, permit)]
    first = decide(given_input(2), lambda _: answers)
    second = decide(given_input(2), lambda _: answers)
    assert first == second
    assert first.outcome is Outcome.ESCALATE


# Two layers (decision 0015): the more restrictive outcome wins and names its layer.

guard_forbid = Verdict(allowed=False, policies=("household.guard",))
guard_silent = Verdict(allowed=True)  # the ceiling allowed it: no guardrail objected


def layered(person: tuple[Verdict, Verdict], household: tuple[Verdict, Verdict]) -> Decision:
    decision_input = given_input(1).model_copy(update={"household_version": VERSION})
    return decide(decision_input, lambda _: [person], lambda _: [household])


def test_a_household_forbid_beats_the_persons_permit() -> None:
    decision = layered((permit, permit), (guard_forbid, guard_forbid))
    assert (decision.outcome, decision.policies, decision.decided_by) == (
        Outcome.DENY,
        ("household.guard",),
        Layer.HOUSEHOLD,
    )


def test_what_the_household_requires_approval_for_escalates_whatever_the_person_permits() -> None:
    decision = layered((permit, permit), (guard_forbid, guard_silent))
    assert (decision.outcome, decision.decided_by) == (Outcome.ESCALATE, Layer.HOUSEHOLD)
    assert decision.steps[0].household_autonomous == guard_forbid


def test_a_silent_household_leaves_the_persons_decision_as_it_was() -> None:
    for person in [(permit, permit), (nothing, permit), (forbid, forbid), (nothing, nothing)]:
        alone = decide(given_input(1), lambda _, p=person: [p])  # type: ignore[misc]
        both = layered(person, (guard_silent, guard_silent))
        assert (both.outcome, both.policies) == (alone.outcome, alone.policies)
        assert both.denied_by_default == alone.denied_by_default
        assert both.decided_by is Layer.PERSON


def test_both_layers_at_the_same_outcome_name_both() -> None:
    decision = layered((forbid, forbid), (guard_forbid, guard_forbid))
    assert decision.policies == ("household.guard", "some.forbid")
    assert decision.decided_by is Layer.BOTH


def test_a_household_evaluation_error_denies() -> None:
    decision = layered((permit, permit), (broken, guard_silent))
    assert decision.outcome is Outcome.DENY and decision.errors


def test_an_input_without_a_household_version_is_decided_by_the_person_alone() -> None:
    decision = decide(given_input(1), lambda _: [(permit, permit)], lambda _: [(broken, broken)])
    assert (decision.outcome, decision.decided_by) == (Outcome.APPROVE, None)
    assert decision.steps[0].household_autonomous is None
