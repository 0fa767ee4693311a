"""What a run event or a due timer asks a worker to do: one step of the run, at most.

`cairn worker` processes follow the run events through one durable consumer they share
(adapters/jetstream/work.py); each event is handed to `RunWorker.on_event`, and its message is
acknowledged only after this returns, so a worker killed anywhere leaves the event to be
delivered again. A waking event carries its run on as far as it goes without an outside wait
(plan, decide, execute), so the plan and the decision saved on the way ask for nothing when
they arrive; nor do events that record a step in progress or an end: they cost no load.
docs/decisions/0008-run-workers-and-timers.md and 0021-a-run-from-one-pick-up.md have the
reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from commands.ports.timers import ESCALATION_EXPIRY, Timer, Timers
from commands.runs.pipeline import PipelinePorts, Step, StepTaken, load_run, save_run, take_step
from domain.runs.run import FINAL, RunStatus

logger = logging.getLogger("cairn.runs")

# Events after which the run's state may allow a step; every other event records a step in
# progress (whose worker holds the event that started it) or an end.
WAKING = frozenset({"IntentSubmitted", "PlanProposed", "PolicyDecided", "EscalationApproved"})
# Saved on the way by a worker carrying its run on: that worker holds, unacknowledged, the
# event it started from until the run waits or ends, so if it dies that event (not these)
# brings the run to another worker. Without the mark (saved by a worker that took one step
# per event) they still wake.
CARRIED = frozenset({"PlanProposed", "PolicyDecided"})
CARRIED_MARK = "run-event:"  # causation id of the events a carrying worker saves: + position
# Events that leave a run waiting for the person, until its escalation expires.
ESCALATED = frozenset({"EscalationRequested", "StepEscalated"})
RUN_TOPIC_PREFIX = "domain.runs.run:Run."


@dataclass(frozen=True)
class RunEvent:
    tenant_id: UUID
    run_id: UUID
    name: str  # the event's class name, e.g. "PlanProposed"
    cause: str | None = None  # the event's causation id
    position: int = 0  # where the event is in the stream


def asks_for_work(name: str, cause: str | None) -> bool:
    """Whether an event with this class name and causation id may need a load at all."""
    if name in CARRIED and cause is not None and cause.startswith(CARRIED_MARK):
        return False
    return name in WAKING or name in ESCALATED


class RunWorker:
    def __init__(
        self,
        ports: PipelinePorts,
        timers: Timers,
        took: Callable[[Step], None] | None = None,
    ) -> None:
        self.ports = ports
        self.timers = timers
        self.took = took  # told of each step taken while carrying a run on

    def on_event(self, event: RunEvent) -> StepTaken | None:
        """Take the steps this event allows; None when the event asks for nothing."""
        if not asks_for_work(event.name, event.cause):
            return None
        if event.name in ESCALATED:
            self._set_expiry_timer(event)
            return None
        return take_step(
            event.run_id,
            event.tenant_id,
            self.ports,
            carry_on=True,
            cause=f"{CARRIED_MARK}{event.position}",
            took=self.took,
        )

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
