"""The run workers' consumer hands the learner the run events it learns from (decision 0047):
`skip` keeps them (a completion saved by a worker carrying its run on is learnt from with the
event it carried the run from), `_handle` takes the run's steps first and then the learner's,
and a learner that fails asks for the event again on its own terms without failing the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from adapters.jetstream import headers as h
from adapters.jetstream.work import WorkItem
from commands.learning_service import LearningService
from commands.runs.policies import RunsApplication
from commands.runs.worker import CARRIED_MARK, RunWorker
from commands.worker_service import WorkerService
from domain.runs.run import RunStatus
from tests.unit.commands.runs.test_worker import (
    NOW,
    TENANT,
    MemoryTimers,
    escalated,
    given_run,
    ports_for,
)

RUN = "domain.runs.run:Run."


def _item(name: str, cause: str | None = None) -> WorkItem:
    headers = {h.TOPIC: RUN + name, h.TENANT: "t"}
    if cause is not None:
        headers[h.CAUSATION_ID] = cause
    return WorkItem("cairn.t.Run.r", headers, stream_sequence=7, deliveries=1)


@dataclass
class Learning:
    answer: float | None = None
    learnt: list[str] = field(default_factory=list)
    handed: list[object] = field(default_factory=list)

    learns_from_run = staticmethod(LearningService.learns_from_run)

    def handle(self, item: WorkItem, carried: object = None) -> float | None:
        self.learnt.append(item.headers[h.TOPIC].rpartition(".")[2])
        self.handed.append(carried)
        return self.answer


@dataclass
class Failpoints:
    reached: list[str] = field(default_factory=list)

    def reach(self, name: str) -> None:
        self.reached.append(name)


@dataclass
class Worker:
    """What `skip` and `_handle` use of a WorkerService."""

    learning: Learning = field(default_factory=Learning)
    failpoints: Failpoints = field(default_factory=Failpoints)
    run_answer: float | None = None
    advanced: list[str] = field(default_factory=list)
    left: object = None  # the run as the steps left it, if they tell

    def _advance(self, item: WorkItem) -> tuple[float | None, object]:
        self.advanced.append(item.headers[h.TOPIC].rpartition(".")[2])
        return self.run_answer, self.left


def _block(name: str, cause: str | None = None) -> bytes:
    """The raw header block of a run event's headers-only delivery."""
    lines = h.header_line(h.TENANT, "t") + h.topic_line(RUN + name)
    if cause is not None:
        lines += h.header_line(h.CAUSATION_ID, cause)
    return b"NATS/1.0\r\n" + lines + b"Nats-Msg-Size: 640\r\n\r\n"


def _skip(worker: Worker, block: bytes | None) -> bool:
    return WorkerService.skip(cast(Any, worker), b"cairn.t.Run.r", block)


def _handle(worker: Worker, item: WorkItem) -> float | None:
    return WorkerService._handle(cast(Any, worker), item)


def test_a_completion_not_carried_on_is_kept_for_the_learner() -> None:
    worker = Worker()
    assert not _skip(worker, _block("IntentSubmitted"))
    assert not _skip(worker, _block("RunCompleted"))  # saved by a timer's step, say
    # Saved by a worker carrying the run on: learnt from with the event it carried it from.
    assert _skip(worker, _block("RunCompleted", cause=f"{CARRIED_MARK}3"))
    assert _skip(worker, _block("StepStarted"))
    assert _skip(worker, _block("PlanProposed", cause=f"{CARRIED_MARK}3"))
    assert worker.failpoints.reached == [
        "before-ack:RunCompleted",
        "before-ack:StepStarted",
        "before-ack:PlanProposed",
    ]


def test_what_the_raw_headers_cannot_tell_is_handled_not_skipped() -> None:
    worker = Worker()
    mark = f"{CARRIED_MARK}3"
    assert not _skip(worker, None)
    assert not _skip(worker, b"NATS/1.0\r\nCairn-Tenant: t\r\n\r\n")  # no topic
    # A line written with a space before its colon is only in the headers dict: the handler
    # reads it there (and finds nothing to do); the raw reading never skips on a guess.
    spaced = b"NATS/1.0\r\nCairn-Topic : " + (RUN + "StepStarted").encode() + b"\r\n\r\n"
    assert not _skip(worker, spaced)
    plan = _block("PlanProposed").replace(
        b"\r\n\r\n", b"\r\nCairn-Causation-Id :" + mark.encode() + b"\r\n\r\n"
    )
    assert not _skip(worker, plan)
    assert worker.failpoints.reached == []


def test_the_run_steps_first_then_the_learner() -> None:
    worker = Worker()
    names = ("IntentSubmitted", "EscalationApproved", "RunCompleted", "EscalationRequested")
    for name in names:
        assert _handle(worker, _item(name)) is None
    assert worker.advanced == list(names)
    # An escalation's request sets a timer only: the run cannot have completed there.
    assert worker.learning.learnt == ["IntentSubmitted", "EscalationApproved", "RunCompleted"]
    assert worker.failpoints.reached == [f"before-ack:{name}" for name in names]


def test_a_run_that_waits_holds_the_event_before_the_learner_sees_it() -> None:
    worker = Worker(run_answer=0.5)
    assert _handle(worker, _item("IntentSubmitted")) == 0.5
    assert worker.learning.learnt == []
    assert worker.failpoints.reached == []


def test_a_learner_that_fails_asks_for_the_event_again_without_failing_the_run() -> None:
    worker = Worker(learning=Learning(answer=2.0))
    assert _handle(worker, _item("RunCompleted")) == 2.0
    assert worker.advanced == ["RunCompleted"]  # run steps only through `_advance`
    assert worker.failpoints.reached == []  # not acknowledged


def test_the_run_as_its_steps_left_it_is_handed_to_the_learner() -> None:
    run = object()  # the run a step returned (commands/runs/pipeline.py: StepTaken.run)
    worker = Worker(left=run)
    assert _handle(worker, _item("IntentSubmitted")) is None
    assert worker.learning.handed == [run]
    # A completion saved elsewhere: no step here, nothing handed over (the learner loads).
    worker.left = None
    assert _handle(worker, _item("RunCompleted")) is None
    assert worker.learning.handed == [run, None]


@dataclass
class Stepping:
    """What `_advance` uses of a WorkerService: the run worker, over an in-memory store."""

    runs: RunWorker
    _observe: None = None


def test_the_steps_tell_the_run_they_left_and_an_event_without_steps_tells_none() -> None:
    app = RunsApplication()
    run = escalated(given_run(), NOW)
    app.save(run)
    stepping = Stepping(RunWorker(ports_for(app, clock=NOW), MemoryTimers()))
    headers = {h.TOPIC: RUN + "EscalationApproved", h.TENANT: str(TENANT)}
    item = WorkItem(f"cairn.{TENANT}.Run.{run.id}", headers, stream_sequence=7, deliveries=1)
    again, left = WorkerService._advance(cast(Any, stepping), item)
    assert again is None
    assert left is not None and left.status is RunStatus.EXPIRED
    assert left.version == app.repository.get(run.id).version
    # An event that asks for no step: nothing to hand over.
    completed = {**headers, h.TOPIC: RUN + "RunCompleted"}
    item = WorkItem(item.subject, completed, stream_sequence=8, deliveries=1)
    assert WorkerService._advance(cast(Any, stepping), item) == (None, None)
