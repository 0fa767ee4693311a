"""Given/When/Then: the run a worker's steps left is handed back with them (`StepTaken.run`),
as the store holds it, so that whoever learns from the run next needs no load of it (decision
0047); a copy the store refused is never handed back. No I/O: the library's POPO store."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

import pytest

from commands.runs.pipeline import Step
from commands.runs.policies import RunsApplication
from commands.runs.worker import RunEvent, RunWorker
from domain.runs.run import Run, RunStatus
from tests.unit.commands.runs.test_worker import (
    NOW,
    TENANT,
    MemoryTimers,
    escalated,
    given_run,
    planned,
    ports_for,
)
from tests.unit.domain.runs.test_run import PLAN

pytestmark = pytest.mark.unit


def _stored(app: RunsApplication, run_id: UUID) -> Run:
    run: Any = app.repository.get(run_id)
    assert isinstance(run, Run)
    return run


def _approved(app: RunsApplication) -> Run:
    run = planned(given_run())
    run.decide("APPROVE", {}, PLAN.plan_hash())
    app.save(run)
    return run


def test_a_run_executed_to_its_end_is_handed_back_as_the_executor_left_it() -> None:
    app = RunsApplication()
    run = _approved(app)
    handed: list[Run] = []

    def execute(loaded: Run, _tenant: UUID, _cause: str | None) -> Run | None:
        loaded.start_step("s1")
        loaded.succeed_step("s1", {})
        loaded.complete()
        app.save(loaded)
        handed.append(loaded)
        return loaded

    ports = dataclasses.replace(ports_for(app), execute=execute)
    taken = RunWorker(ports, MemoryTimers()).on_event(
        RunEvent(TENANT, run.id, "EscalationApproved", position=9)
    )
    assert taken is not None and taken.steps == (Step.EXECUTE,) and not taken.raced
    assert taken.run is handed[0]
    assert taken.run.status is RunStatus.COMPLETED
    assert taken.run.version == _stored(app, run.id).version


def test_an_executor_that_cannot_tell_the_run_hands_back_none() -> None:
    app = RunsApplication()
    run = _approved(app)
    ports = dataclasses.replace(ports_for(app), execute=lambda _run, _tenant, _cause: None)
    taken = RunWorker(ports, MemoryTimers()).on_event(
        RunEvent(TENANT, run.id, "EscalationApproved")
    )
    assert taken is not None and taken.steps == (Step.EXECUTE,)
    assert taken.run is None and not taken.raced


def test_a_step_saved_hands_back_the_run_as_stored() -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW)
    app.save(run)
    worker = RunWorker(ports_for(app, clock=NOW), MemoryTimers())
    taken = worker.on_event(RunEvent(TENANT, run.id, "EscalationApproved", position=3))
    assert taken is not None and taken.steps == (Step.EXPIRE,)
    stored = _stored(app, run.id)
    assert taken.run is not None and taken.run.status is RunStatus.EXPIRED
    assert taken.run.version == stored.version


def test_a_redelivered_event_hands_back_the_run_as_loaded() -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW)
    run.expire_escalation(NOW)
    app.save(run)
    taken = RunWorker(ports_for(app, clock=NOW), MemoryTimers()).on_event(
        RunEvent(TENANT, run.id, "EscalationApproved")
    )
    assert taken is not None and taken.step is None
    assert taken.run is not None and taken.run.version == _stored(app, run.id).version


def test_a_step_someone_else_got_in_first_hands_back_no_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW)
    app.save(run)
    stale = _stored(app, run.id)
    fresh = _stored(app, run.id)
    fresh.cancel("user-1")  # the person, first
    app.save(fresh)
    monkeypatch.setattr(app.repository, "get", lambda *_args, **_kwargs: stale)
    taken = RunWorker(ports_for(app, clock=NOW), MemoryTimers()).on_event(
        RunEvent(TENANT, run.id, "EscalationApproved")
    )
    # The stale copy holds the expiry the store refused: not the run as stored.
    assert taken is not None and taken.raced and taken.steps == (Step.EXPIRE,)
    assert taken.run is None
    monkeypatch.undo()
    assert _stored(app, run.id).status is RunStatus.CANCELLED
