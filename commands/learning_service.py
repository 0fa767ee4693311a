"""The workers' second consumer: context events in, knowledge out (commands/context/
background.py). A durable JetStream consumer shared by every worker process, beside the run
consumer: new memories, synced mail and calendar items. Runs reach the learner through the
run consumer instead, which is sent every run event anyway: after the steps a waking event
caused, the run is taught from as they left it (its intent; the completed run, when it
completed there), handed over by the worker that took them (loaded only when it is not, or
is behind what this process stored or read), and a completion saved elsewhere is handed
over apart (`learns_from_run`, decision 0047). A failure is retried with a backoff a few times, then
left (nothing waits on it: the rules already ran, and the run has its outcome); a dependency
that is down is retried longer.

The consumer starts at the stream's end when first created: turning learning on in a store
with history does not send every old note to the person's model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from adapters.jetstream import headers as h
from adapters.jetstream.recorders import JetStreamAggregateRecorder
from adapters.jetstream.replies import header, header_key
from adapters.jetstream.work import ConsumerSpec, DurableWork, WorkItem
from adapters.telemetry.logs import bound
from commands.application import CairnApplication
from commands.bootstrap import Services
from commands.context.background import ContextLearner
from commands.context.calendar_learning import calendar_loader, learn_from_calendar
from commands.context.mail_learning import learn_from_mail, mail_loader
from commands.runs.worker import CARRIED_MARK, WAKING, asks_for_work
from domain.errors import Unavailable
from domain.runs.run import Run

logger = logging.getLogger("cairn.learner")
_TOPIC = header_key(h.TOPIC)

MEMORY_TOPIC = "domain.context.memory:Memory.MemoryNoted"
MAIL_TOPIC = "domain.integrations.mail_feed:MailFeed.MailSynced"
CALENDAR_TOPIC = "domain.integrations.sync:CalendarFeed.CalendarEventSynced"
# What the learner's own consumer is sent, and what it learns from among that.
LEARNS_FROM = frozenset({"MemoryNoted", "MailSynced", "CalendarEventSynced"})
# The learner's own consumer is not sent run events: the run consumer hands them over
# (decision 0047), each after the run's steps it caused were taken.
GIVE_UP_AFTER = 5
WAIT_LONGER_AFTER_OUTAGES = 20


def _found(app: CairnApplication, aggregate_id: UUID, version: int | None = None) -> Any:
    try:
        return app.repository.get(aggregate_id, version=version)
    except AggregateNotFoundError:
        return None


def _fresh_loader(app: CairnApplication) -> Callable[[UUID], Any]:
    """Loads that never miss what this process stored: a read answered from behind (a replica
    that is not current) is refused, and the event comes again, rather than learnt from."""
    recorder = app.recorder
    if not isinstance(recorder, JetStreamAggregateRecorder):
        return lambda run_id: _found(app, run_id)

    def load(run_id: UUID) -> Any:
        stored = recorder.last_known_version(run_id)
        run = _found(app, run_id)
        if stored is not None and (run is None or run.version < stored):
            raise Unavailable(f"run {run_id} was read from behind version {stored}; read again")
        return run

    return load


def _current_check(app: CairnApplication) -> Callable[[Run | None], Run | None]:
    """A run handed over by the worker that took its steps, if it is the version this process
    last stored or read of it (decision 0047's guard, without the load); else None, and the
    learner loads it."""
    recorder = app.recorder
    if not isinstance(recorder, JetStreamAggregateRecorder):
        return lambda carried: carried

    def current(carried: Run | None) -> Run | None:
        if carried is None or recorder.last_known_version(carried.id) != carried.version:
            return None
        return carried

    return current


def backoff(deliveries: int) -> float:
    return min(0.5 * 2.0 ** min(deliveries, 10), 60.0)


class LearningService:
    def __init__(self, services: Services, concurrency: int = 4) -> None:
        settings = services.settings
        runs = services.runs.app
        self.learner = ContextLearner(
            services.context,
            _fresh_loader(runs),
            # An intent needs the run's first event only, not what the worker added since.
            load_intent=lambda run_id: _found(runs, run_id, version=1),
            model_learns_intents=settings.context_model_learns_intents,
        )
        self._current = _current_check(runs)
        self.context = services.context
        self.load_mail = mail_loader(services.feeds.app)
        self.load_calendar = calendar_loader(services.feeds.app)
        spec = ConsumerSpec(
            stream=settings.stream,
            durable=f"{settings.stream}_context_learners",
            subject_filter=h.aggregate_type_filter(settings.subject_prefix, MEMORY_TOPIC),
            # Not the runs' subjects: their six events per run would be sent twice to every
            # worker process for the two the learner needs (decision 0047).
            more_filters=(
                h.aggregate_type_filter(settings.subject_prefix, MAIL_TOPIC),
                h.aggregate_type_filter(settings.subject_prefix, CALENDAR_TOPIC),
            ),
            ack_wait=settings.worker_ack_wait_s,
            new_only=True,
        )
        self.work = DurableWork(
            settings.nats_url,
            spec,
            self.handle,
            concurrency=concurrency,
            name="cairn-learner",
            skip=self.skip,
        )

    @staticmethod
    def skip(subject: bytes, block: bytes | None) -> bool:
        """True for an event the learner does not learn from, read from its raw headers; one
        whose topic they do not show is handed to `handle`, which reads its headers."""
        topic = header(block, _TOPIC)
        return topic is not None and topic.rpartition(".")[2] not in LEARNS_FROM

    @staticmethod
    def learns_from_run(name: str, cause: str | None) -> bool:
        """Whether the learner learns from this run event, once the run's steps it caused are
        taken: an event a worker took steps from (the run may have completed there: learnt
        from with it, from one load), and a completion saved without carrying the run on (a
        timer's step). A completion saved by a worker carrying its run on was learnt from
        with the event it carried the run from."""
        if name == "RunCompleted":
            return cause is None or not cause.startswith(CARRIED_MARK)
        return name in WAKING and asks_for_work(name, cause)

    def handle(self, item: WorkItem, carried: Run | None = None) -> float | None:
        """Learn from the item's event (a run event with the run as the steps it caused left
        it, when the worker hands that over); None when done, else seconds until again."""
        try:
            _tenant, topic, origin = h.event_origin(item.subject, item.headers)
            originator = UUID(str(origin))
        except (KeyError, ValueError):
            return None
        name = topic.rpartition(".")[2]
        with bound(correlation_id=item.headers.get(h.CORRELATION_ID)):
            try:
                self.learn(name, originator, int(item.headers.get(h.VERSION, "0")), carried)
            except Unavailable as exc:
                if item.deliveries < WAIT_LONGER_AFTER_OUTAGES:
                    logger.warning("learning from %s %s waits (%r)", name, originator, exc)
                    return backoff(item.deliveries)
                logger.error("learning from %s %s given up (%r)", name, originator, exc)
            except Exception:
                if item.deliveries < GIVE_UP_AFTER:
                    logger.exception("learning from %s %s failed; will retry", name, originator)
                    return backoff(item.deliveries)
                logger.exception("learning from %s %s failed; given up", name, originator)
        return None

    def learn(
        self, name: str, originator: UUID, version: int = 0, carried: Run | None = None
    ) -> int | None:
        if name == "MemoryNoted":
            return self.learner.on_memory_noted(originator)
        if name == "RunCompleted":
            return self.learner.on_run_completed(originator)
        if name in WAKING:
            submitted = name == "IntentSubmitted"
            run = self._current(carried)
            return self.learner.on_run_advanced(originator, submitted=submitted, carried=run)
        if name == "MailSynced":
            mail = self.load_mail(originator, version)
            return None if mail is None else learn_from_mail(self.context, mail)
        if name == "CalendarEventSynced":
            item = self.load_calendar(originator, version)
            return None if item is None else learn_from_calendar(self.context, item)
        return None
