"""Execute an approved Run: each planned step acts once at its provider, whatever crashes.

The run's events are the executor's only memory. Each attempt of a step is recorded before it
acts (`StepStarted`, carrying the step's idempotency key) and its outcome after
(`StepSucceeded` / `StepFailed`). Executing again after a crash anywhere reloads the run and
carries on from the first step that has not succeeded; an attempt whose outcome was never
recorded is simply attempted again with the same key, and the provider, which performs an
action at most once per key, answers the repeat with its first result. Two workers on one run
race on the event store's optimistic concurrency: a save on a stale run is refused, the loser
reloads and decides again. docs/executor.md has the whole story.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from commands.ports.integrations import (
    ActionHandler,
    ActionHandlers,
    ErrorKind,
    IntegrationError,
    Integrations,
)
from commands.runs.plan_checks import decided_plan, step_failure
from domain.errors import Conflict, InvalidInput, NotFound
from domain.event_context import EventContext
from domain.runs.plan import Plan, PlanStep
from domain.runs.run import FINAL, Run, RunStatus

ACTOR = "executor"
# Reloads after a concurrent change before giving up. Every other pass makes progress (a step
# succeeds, or the run ends), so this only bounds a pathological race.
MAX_CONFLICTS = 50
# How long a run whose connection must be renewed waits for the person before it expires.
NEEDS_PERSON_WAIT = timedelta(days=1)


class _Restart(Exception):
    """The run changed under this worker: reload it and decide again."""


@dataclass(frozen=True)
class Executed:
    position: int | None  # of the last event this execution recorded; None: it recorded none
    run: Run | None  # the run as its last save or load left it (as stored); None: unknown


def execute_run(
    run_id: UUID,
    app: Application[UUID],
    registry: ActionHandlers,
    integrations: Integrations,
    tenant: str,
    *,
    actor: str = ACTOR,
    sleep: Callable[[float], None] = time.sleep,
    context: EventContext | None = None,
    loaded: Run | None = None,
) -> Executed:
    """Execute the run's remaining steps and complete it, or fail it with a reason.

    `loaded` is the run as the caller has just loaded it (a worker loads it to choose the
    step), possibly with events not saved yet (a worker's plan and decision): given, it is not
    loaded again, and its unsaved events go with the first save (or are dropped with it when
    someone else changed the run first). After that the run is only reloaded when a save
    finds that someone else changed it.

    Returns the position (notification id) of the last event this call recorded (None if it
    recorded nothing: the run was already completed) and the run as stored after this call.
    Raises `InvalidTransition` for a run that is not approved (or is failed, denied,
    cancelled), `PlanMismatch` when the stored plan is not the one that was decided,
    `NotFound` for an unknown run; nothing is called then.
    Event-store outages propagate (`EventStoreUnavailable`): executing again later is safe.

    Events are recorded under `context` (default: the run's id as correlation id) with this
    tenant and actor; its command id is dropped: one execution records many saves.
    """
    if loaded is not None and loaded.id != run_id:
        raise ValueError("the loaded run is not the run to execute")
    base = context or EventContext(correlation_id=str(run_id))
    saved_as = replace(base, tenant=tenant, actor=actor, command_id=None)
    execution = _Execution(run_id, app, registry, integrations, tenant, sleep, saved_as)
    return Executed(execution.run(loaded), execution.left)


class _Execution:
    def __init__(
        self,
        run_id: UUID,
        app: Application[UUID],
        registry: ActionHandlers,
        integrations: Integrations,
        tenant: str,
        sleep: Callable[[float], None],
        context: EventContext,
    ) -> None:
        self.run_id = run_id
        self.context = context
        self.app = app
        self.registry = registry
        self.integrations = integrations
        self.tenant = tenant
        self.sleep = sleep
        self.position: int | None = None
        # The run as last saved or loaded here: what the store holds when `run` returns (a
        # change whose save was refused is always followed by a load or an exception).
        self.left: Run | None = None
        # Failed attempts per step in this execution: the retry budget. A crash starts a new
        # budget; `RetryPolicy.max_starts` bounds the attempts over all executions.
        self.failures: Counter[str] = Counter()

    def run(self, loaded: Run | None) -> int | None:
        conflicts = 0
        run = loaded
        while True:
            try:
                run = self._advance(run or self._load())
                if run is None:
                    return self.position
            except _Restart:
                run = None  # changed by someone else: reload
                conflicts += 1
                if conflicts > MAX_CONFLICTS:
                    raise Conflict(
                        "the run kept changing under the executor", {"run_id": str(self.run_id)}
                    ) from None

    def _advance(self, run: Run) -> Run | None:
        """One pass: act on the next unfinished step or finish the run. None when finished,
        else the run as this pass left it (its own saves applied)."""
        if run.status is RunStatus.COMPLETED:
            return None
        run.check_may_execute()
        plan, problem = decided_plan(run)
        problem = problem or self._unexecutable(plan)
        if problem or plan is None:
            self._fail_run(run, problem or "the run has no plan")
            return None
        for step in plan.steps:
            state = run.steps.get(step.step_id, {})
            if state.get("state") == "succeeded":
                continue
            if state.get("state") == "failed" and not state.get("retryable"):
                # Crashed between recording the step's final failure and the run's.
                self._fail_run(run, step_failure(step, str(state.get("error"))))
                return None
            return self._attempt(run, step)
        self._change(run, lambda r: r.complete(), still=lambda r: r.status is RunStatus.EXECUTING)
        return None

    def _unexecutable(self, plan: Plan | None) -> str | None:
        """Why some step could never be performed here: found before the first step acts."""
        for step in plan.steps if plan else ():
            try:
                self.registry.get(step.action).validate(step.parameters)
            except InvalidInput as exc:
                return f"step {step.step_id}: {exc.message}"
            if not self.integrations.supports(step.provider, step.action):
                return f"step {step.step_id}: {step.action} at {step.provider!r} is not connected"
        return None

    def _attempt(self, run: Run, step: PlanStep) -> Run | None:
        handler = self.registry.get(step.action)
        policy = handler.retry
        sid = step.step_id
        started = int(run.steps.get(sid, {}).get("attempts", 0))
        if started >= policy.max_starts:
            # The provider may have acted: the reason names the key to look it up by.
            unknown = f"started {started} times without an outcome (key {run.steps[sid]['key']})"
            untouched = run.steps[sid].copy()
            self._fail_run(
                run, step_failure(step, unknown), still=lambda r: r.steps[sid] == untouched
            )
            return None
        if not policy.repeat_unknown and run.steps.get(sid, {}).get("state") == "started":
            # Started, no outcome: it may have acted; no key tells a repeat (decision 0035).
            self._ask_person(run, sid, "an earlier attempt left no outcome; it may have acted")
            return None
        key = run.start_step(sid)
        self._save(run)  # recorded before acting: a crash from here on is resumed with `key`
        # Still this worker's attempt while nobody recorded another start or an outcome.
        mine = run.steps[sid].copy()
        ours = lambda r: r.steps.get(sid) == mine  # noqa: E731
        try:
            result = self._perform(handler, step, key, run.user_id)
        except (IntegrationError, InvalidInput) as exc:
            if isinstance(exc, IntegrationError) and exc.kind is ErrorKind.NEEDS_PERSON:
                # Only the person can cure it (connect again): wait for them, don't fail.
                self._ask_person(run, sid, f"{exc.kind}: {exc.message}")
                return None
            self.failures[sid] += 1
            failures = self.failures[sid]
            if isinstance(exc, IntegrationError):
                retry, error = policy.should_retry(exc, failures), f"{exc.kind}: {exc.message}"
            else:
                retry, error = False, exc.message
            # `retryable` records whether the executor will try again, so that a resumed
            # execution knows a non-retryable failure still has to fail the run.
            run = self._change(run, lambda r: r.fail_step(sid, error, retryable=retry), still=ours)
            if not retry:
                self._fail_run(run, step_failure(step, error, failures))
                return None
            waited = exc.retry_after if isinstance(exc, IntegrationError) else None
            # The provider's own signal (Retry-After) wins over a shorter backoff of ours.
            self.sleep(max(policy.backoff(failures), waited or 0.0))
            return run
        # Whoever started the current attempt, it used the same key, so this is its result too.
        return self._change(
            run,
            lambda r: r.succeed_step(sid, result),
            still=lambda r: r.steps.get(sid, {}).get("state") == "started",
        )

    def _perform(
        self, handler: ActionHandler, step: PlanStep, key: str, person: str
    ) -> dict[str, Any]:
        """Call the provider; while it says the key is in flight, ask again (same attempt)."""
        policy = handler.retry
        deadline = time.monotonic() + policy.in_flight_patience
        polls = 0
        while True:
            try:
                return handler.perform(
                    self.integrations,
                    self.tenant,
                    step.provider,
                    step.parameters,
                    key,
                    person=person,
                )
            except IntegrationError as exc:
                if exc.kind is not ErrorKind.IN_FLIGHT or time.monotonic() >= deadline:
                    raise
            polls += 1
            self.sleep(policy.backoff(polls))

    def _ask_person(self, run: Run, sid: str, why: str) -> None:
        """The step waits for the person, if it is still as this worker left it."""
        before, until = run.steps[sid].copy(), datetime.now(UTC) + NEEDS_PERSON_WAIT
        same = lambda r: r.steps.get(sid) == before  # noqa: E731
        self._change(run, lambda r: r.escalate_step(sid, why, until), still=same)

    def _fail_run(self, run: Run, reason: str, still: Callable[[Run], bool] | None = None) -> None:
        """Record the run's failure; after a concurrent change only if it still holds."""
        self._change(run, lambda r: r.fail(reason), still=still or _not_final)

    def _change(
        self, run: Run, change: Callable[[Run], None], *, still: Callable[[Run], bool]
    ) -> Run:
        """Apply `change` and save; on a concurrent change, reload and apply it again if
        `still` holds for the fresh run, else restart the pass."""
        for _ in range(MAX_CONFLICTS):
            change(run)
            try:
                self._save(run)
                return run
            except _Restart:
                run = self._load()
                if not still(run):
                    raise
        raise _Restart

    def _save(self, run: Run) -> None:
        try:
            recordings = self.app.save(run, context=self.context)
        except IntegrityError as exc:
            # Another worker recorded an event first (expected-sequence check of the store).
            raise _Restart from exc
        if recordings:
            self.position = recordings[-1].notification.id
        self.left = run

    def _load(self) -> Run:
        try:
            run: Any = self.app.repository.get(self.run_id)
        except AggregateNotFoundError:
            raise NotFound("no such run", {"run_id": str(self.run_id)}) from None
        if not isinstance(run, Run):
            raise NotFound("no such run", {"run_id": str(self.run_id)})
        self.left = run
        return run


def _not_final(run: Run) -> bool:
    return run.status not in FINAL
