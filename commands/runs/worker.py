"""What a run event or a due timer asks a worker to do: one step of the run, at most.

`cairn worker` processes follow the run events through one durable consumer they share
(adapters/jetstream/work.py); each event is handed to `RunWorker.on_event`, and its message is
acknowledged only after this returns, so a worker killed anywhere leaves the event to be
delivered again. Events that record a step in progress or an end ask for nothing and cost no
load. docs/decisions/0008-run-workers-and-timers.md has the reasons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from commands.ports.timers import ESCALATION_EXPIRY, Timer, Timers
from commands.runs.pipeline import PipelinePorts, StepTaken, load_run, save_run, take_step
from domain.runs.run import FINAL, RunStatus

logger = logging.getLogger("cairn.runs")

# Events after which the run's state may allow a step; every other event records a step in
# progress (whose worker holds the event that started it) or an end.
WAKING = frozenset({"IntentSubmitted", "PlanProposed", "PolicyDecided", "EscalationApproved"})
# Events that leave a run waiting for the person, until its escalation expires.
ESCALATED = frozenset({"EscalationRequested", "StepEscalated"})
RUN_TOPIC_PREFIX = "domain.runs.run:Run."


@dataclass(frozen=True)
class RunEvent:
    tenant_id: UUID
    run_id: UUID
    name: str  # the event's class name, e.g. "PlanProposed"


class RunWorker:
    def __init__(self, ports: PipelinePorts, timers: Timers) -> None:
        self.ports = ports
        self.timers = timers

    def on_event(self, event: RunEvent) -> StepTaken | None:
        """Take the step this event may allow; None when the event asks for nothing."""
        if event.name in ESCALATED:
            self._set_expiry_timer(event)
            return None
        if event.name not in WAKING:
            return None
        return take_step(event.run_id, event.tenant_id, self.ports)

    def on_timer(self, timer: Timer) -> StepTaken | None:
        if timer.kind != ESCALATION_EXPIRY:
            logger.error("unknown timer kind %r for %s: dropped", timer.kind, timer.subject_id)
            return None
        return take_step(timer.subject_id, timer.tenant_id, self.ports)

    def _set_expiry_timer(self, event: RunEvent) -> None:
        run = load_run(self.ports, event.run_id)
        if run.status is not RunStatus.ESCALATED or run.escalation_expires_at is None:
            return  # answered (or cancelled) before this event reached a worker
        self.timers.schedule(
            Timer(ESCALATION_EXPIRY, run.id, event.tenant_id, run.escalation_expires_at)
        )

    def fail_stuck(self, event: RunEvent, attempts: int, error: str) -> None:
        """After an event failed `attempts` times for a reason no retry will cure (a bug, or
        data no step can handle), fail its run with the reason instead of trying forever."""
        run = load_run(self.ports, event.run_id)
        if run.status in FINAL:
            return
        run.fail(f"internal_error: advancing the run failed {attempts} times ({error})")
        save_run(self.ports, run, event.tenant_id)
