"""The combination rule: two verdicts per step -> a step outcome; step outcomes -> a plan outcome.

Per step, the engine is asked twice, once with mode "autonomous" and once with mode
"with_approval":

- APPROVE   if autonomous execution is permitted;
- ESCALATE  if only execution with the person's approval is permitted;
- DENY      otherwise: nothing permitted it (deny by default), or a forbid matched in both
            modes (forbid wins over any permit), or evaluation reported an error (fail closed:
            a forbid that could not be evaluated must not be silently skipped).

A plan: any DENY -> DENY, else any ESCALATE -> ESCALATE, else APPROVE.

Two layers (docs/decisions/0015): the household's guardrails and the person's own policies
are each decided as above, and a step gets the more restrictive of the two outcomes (DENY
before ESCALATE before APPROVE). So a forbid in either layer wins, and what the household
requires approval for stays ESCALATE whatever the person permits. The step names the policies
of the layer that decided it (of both when both reached that outcome).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from domain.policy.model import (
    Decision,
    DecisionInput,
    Layer,
    Outcome,
    StepDecision,
    StepInput,
    Verdict,
)

StepVerdicts = tuple[Verdict, Verdict]
"""(autonomous, with_approval) for one step."""

Authorizer = Callable[[DecisionInput], Sequence[StepVerdicts]]
"""Answers both modes for every step of the input, in step order. Must be deterministic."""


_RESTRICTIVENESS = {Outcome.DENY: 0, Outcome.ESCALATE: 1, Outcome.APPROVE: 2}


def _unique_sorted(*groups: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({policy for group in groups for policy in group}))


def step_outcome(autonomous: Verdict, with_approval: Verdict) -> tuple[Outcome, tuple[str, ...]]:
    """The step's outcome and the policies that determined it."""
    if autonomous.errors or with_approval.errors:
        # Only forbids are reported on a refusal; permits did not decide a DENY.
        forbids = [v.policies for v in (autonomous, with_approval) if not v.allowed]
        return Outcome.DENY, _unique_sorted(*forbids)
    if autonomous.allowed:
        return Outcome.APPROVE, _unique_sorted(autonomous.policies)
    if with_approval.allowed:
        # The permits that allow it with approval, and the forbids (if any) that took away
        # autonomy: together they explain why the person is asked.
        return Outcome.ESCALATE, _unique_sorted(with_approval.policies, autonomous.policies)
    return Outcome.DENY, _unique_sorted(autonomous.policies, with_approval.policies)


def plan_outcome(outcomes: Iterable[Outcome]) -> Outcome:
    """Any DENY -> DENY, else any ESCALATE -> ESCALATE, else APPROVE; no steps -> DENY."""
    seen = set(outcomes)
    if not seen or Outcome.DENY in seen:
        return Outcome.DENY
    if Outcome.ESCALATE in seen:
        return Outcome.ESCALATE
    return Outcome.APPROVE


def decide_step(step: StepInput, autonomous: Verdict, with_approval: Verdict) -> StepDecision:
    outcome, policies = step_outcome(autonomous, with_approval)
    errors = (*autonomous.errors, *with_approval.errors)
    return StepDecision(
        step_id=step.step_id,
        action=step.action,
        outcome=outcome,
        policies=policies,
        denied_by_default=outcome is Outcome.DENY and not policies and not errors,
        autonomous=autonomous,
        with_approval=with_approval,
        errors=tuple(dict.fromkeys(errors)),
    )


def decide_layered_step(
    step: StepInput, person: StepVerdicts, household: StepVerdicts
) -> StepDecision:
    """The more restrictive of the person's and the household's outcome for one step."""
    own = decide_step(step, *person)
    guard, guard_policies = step_outcome(*household)
    errors = tuple(dict.fromkeys((*own.errors, *household[0].errors, *household[1].errors)))
    if _RESTRICTIVENESS[guard] < _RESTRICTIVENESS[own.outcome]:
        outcome, policies, layer = guard, guard_policies, Layer.HOUSEHOLD
    elif _RESTRICTIVENESS[own.outcome] < _RESTRICTIVENESS[guard]:
        outcome, policies, layer = own.outcome, own.policies, Layer.PERSON
    else:
        outcome = own.outcome
        policies = _unique_sorted(own.policies, guard_policies)
        if guard_policies:
            layer = Layer.BOTH if own.policies else Layer.HOUSEHOLD
        else:
            layer = Layer.PERSON
    return own.model_copy(
        update={
            "outcome": outcome,
            "policies": policies,
            "denied_by_default": outcome is Outcome.DENY and not policies and not errors,
            "errors": errors,
            "household_autonomous": household[0],
            "household_with_approval": household[1],
            "decided_by": layer,
        }
    )


def _deciding_layer(steps: Sequence[StepDecision]) -> Layer | None:
    layers = {step.decided_by for step in steps}
    if layers == {None}:
        return None
    return layers.pop() if len(layers) == 1 else Layer.BOTH


def combine(
    decision_input: DecisionInput,
    verdicts: Sequence[StepVerdicts],
    household: Sequence[StepVerdicts] | None = None,
) -> Decision:
    """The plan's decision from the person's verdicts and, when given, the household's."""
    for answered in (verdicts, household if household is not None else verdicts):
        if len(answered) != len(decision_input.steps):
            raise ValueError(
                f"the authorizer answered {len(answered)} steps for {len(decision_input.steps)}"
            )
    if household is None:
        steps = tuple(
            decide_step(step, autonomous, with_approval)
            for step, (autonomous, with_approval) in zip(
                decision_input.steps, verdicts, strict=True
            )
        )
    else:
        steps = tuple(
            decide_layered_step(step, person, guard)
            for step, person, guard in zip(decision_input.steps, verdicts, household, strict=True)
        )
    outcome = plan_outcome(step.outcome for step in steps)
    # The plan's outcome was determined by the steps that have that outcome, in step order.
    deciding = [step for step in steps if step.outcome is outcome]
    policies = tuple(dict.fromkeys(p for step in deciding for p in step.policies))
    return Decision(
        outcome=outcome,
        policies=policies,
        denied_by_default=outcome is Outcome.DENY and all(s.denied_by_default for s in deciding),
        steps=steps,
        errors=tuple(f"{step.step_id}: {error}" for step in steps for error in step.errors),
        input=decision_input,
        decided_by=_deciding_layer(deciding),
    )


def decide(
    decision_input: DecisionInput,
    authorize: Authorizer,
    authorize_household: Authorizer | None = None,
) -> Decision:
    """The decision for `decision_input`: deterministic when the authorizers are. The
    household's is asked only when the input records a household version."""
    household = None
    if decision_input.household_version is not None:
        if authorize_household is None:
            raise ValueError("the input records household guardrails but none were given")
        household = authorize_household(decision_input)
    return combine(decision_input, authorize(decision_input), household)
