"""What the executor checks of a run's plan before acting, and how it words a step's failure
(commands/runs/execute.py)."""

from __future__ import annotations

from pydantic import ValidationError

from domain.errors import DomainError
from domain.runs.plan import Plan, PlanStep
from domain.runs.run import PlanMismatch, Run


def decided_plan(run: Run) -> tuple[Plan | None, str | None]:
    """The run's plan, checked against the hash its decision (and any approval) is bound to."""
    try:
        plan = Plan.model_validate(run.plan)
    except (ValidationError, DomainError) as exc:
        # A stored plan the catalogue no longer accepts: never act on it.
        return None, f"the plan no longer validates: {type(exc).__name__}"
    if plan.plan_hash() != run.plan_hash:
        raise PlanMismatch(
            "the stored plan is not the plan that was decided",
            {"run_id": str(run.id), "expected": run.plan_hash, "given": plan.plan_hash()},
        )
    return plan, None


def step_failure(step: PlanStep, error: str, attempts: int | None = None) -> str:
    tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else ""
    return f"step {step.step_id} ({step.action} at {step.provider}) failed{tries}: {error}"
