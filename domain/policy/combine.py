"""The combination rule: two verdicts per step -> a step outcome; step outcomes -> a plan outcome.

Per step, the engine is asked twice, once with mode "autonomous" and once with mode
"with_approval":

- APPROVE   if autonomous execution is permitted;
- ESCALATE  if only execution with the person's approval is permitted;
- DENY      otherwise: nothing permitted it (deny by default), or a forbid matched in both
            modes (forbid wins over any permit), or evaluation reported an error (fail closed:
            a forbid that could not be evaluated must not be silently skipped).

A plan: any DENY -> DENY, else any ESCALATE -> ESCALATE, else APPROVE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from domain.policy.model import Decision, DecisionInput, Outcome, StepDecision, StepInput, Verdict

StepVerdicts = tuple[Verdict, Verdict]
"""(autonomous, with_approval) for one step."""

Authorizer = Callable[[DecisionInput], Sequence[StepVerdicts]]
"""Answers both modes for every step of the input, in step order. Must be deterministic."""


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


def combine(decision_input: DecisionInput, verdicts: Sequence[StepVerdicts]) -> Decision:
    if len(verdicts) != len(decision_input.steps):
        raise ValueError(
            f"the authorizer answered {len(verdicts)} steps for {len(decision_input.steps)}"
        )
    steps = tuple(
        decide_step(step, autonomous, with_approval)
        for step, (autonomous, with_approval) in zip(decision_input.steps, verdicts, strict=True)
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
    )


def decide(decision_input: DecisionInput, authorize: Authorizer) -> Decision:
    """The decision for `decision_input`: deterministic when `authorize` is."""
    return combine(decision_input, authorize(decision_input))
