"""The `cairn worker` process: run events in, steps out; and the timers that come due.

The second composition root beside `bootstrap` (which it uses): it wires the run pipeline to a
durable consumer of run events shared by every worker process, and fires due timers. The same
class runs in a thread for in-process tests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from uuid import UUID

import psycopg
import redis
from eventsourcing.persistence import OperationalError

from adapters.context.reembedding import PostgresReembedStore
from adapters.failpoints import Failpoints
from adapters.jetstream import headers as h
from adapters.jetstream import loops
from adapters.jetstream.recorders import JetStreamAggregateRecorder
from adapters.jetstream.replies import header, header_key
from adapters.jetstream.work import ConsumerSpec, DurableWork, WorkItem
from adapters.postgres.timers import PostgresTimers
from adapters.telemetry import metrics as gauges
from adapters.telemetry import tracing
from adapters.telemetry.logs import bound
from commands.bootstrap import Services, bootstrap, pipeline_ports
from commands.context.reembedding import Reembedder
from commands.integrations.keepalive import is_connection_timer, on_connection_timer
from commands.integrations.mail_sync import KINDS as MAIL_TIMERS
from commands.integrations.pruning import prune_soon
from commands.integrations.sync import KINDS as FEED_TIMERS
from commands.learning_service import LearningService
from commands.ports.timers import Timer
from commands.runs.worker import RUN_TOPIC_PREFIX, RunEvent, RunWorker, asks_for_work
from commands.settings import CairnSettings
from domain.errors import Unavailable
from domain.runs.run import Run

logger = logging.getLogger("cairn.worker")
_tracer = tracing.tracer("cairn.worker")

# Deliveries of one event that failed for a reason retrying does not cure, before its run is
# failed with the reason (a dependency that is down is retried without limit).
GIVE_UP_AFTER = 5
# How often a worker looks for memories whose vector is not of their tenant's model.
REEMBED_EVERY_S = 60.0
MAX_BACKOFF_S = 30.0
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,  # includes the event store's EventStoreUnavailable
    psycopg.OperationalError,
    redis.ConnectionError,
    redis.TimeoutError,
    Unavailable,
)

_TOPIC = header_key(h.TOPIC)
_CAUSATION = header_key(h.CAUSATION_ID)


def _step_span(event: RunEvent) -> AbstractContextManager[object]:
    if not tracing.enabled():
        return nullcontext()
    attributes = {"cairn.run_id": str(event.run_id), "cairn.event": event.name}
    return _tracer.start_as_current_span("run step", attributes=attributes)


async def _when(event: asyncio.Event, ready: threading.Event) -> None:
    await event.wait()
    ready.set()


def backoff(deliveries: int) -> float:
    return min(0.25 * 2.0 ** min(deliveries, 10), MAX_BACKOFF_S)


class WorkerService:
    def __init__(self, settings: CairnSettings, services: Services | None = None) -> None:
        self.settings = settings
        self._own_services = services is None
        self.services = services if services is not None else bootstrap(settings)
        self.timers = PostgresTimers(self.services.pool)
        self.failpoints = Failpoints(settings.failpoints)
        self.runs = RunWorker(
            pipeline_ports(self.services, self.failpoints),
            self.timers,
            took=lambda step: self.failpoints.reach(f"after-step:{step}"),
        )
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.stopping = threading.Event()
        spec = ConsumerSpec(
            stream=settings.stream,
            durable=f"{settings.stream}_run_workers",
            subject_filter=h.aggregate_type_filter(settings.subject_prefix, RUN_TOPIC_PREFIX),
            ack_wait=settings.worker_ack_wait_s,
        )
        self.work = DurableWork(
            settings.nats_url,
            spec,
            self.handle,
            concurrency=settings.worker_concurrency,
            skip=self.skip,
        )
        # Context events in, knowledge out (commands/learning_service.py), and memories
        # re-embedded when the embedding model changes (commands/context/reembedding.py).
        self.learning = LearningService(self.services)
        recorder = self.services.runs.app.recorder
        # A delivery's subject is where its run's events are: its load skips the record.
        self._observe: Callable[[str], None] | None = (
            recorder.observe_event_subject
            if isinstance(recorder, JetStreamAggregateRecorder)
            else None
        )
        store = PostgresReembedStore(self.services.pool)
        self.reembedder = Reembedder(self.services.context, store)

    def skip(self, subject: bytes, block: bytes | None) -> bool:
        """True for a run event that asks for nothing, of the run or of the learner (read from
        its raw headers alone, decision 0062): a completion carried on to is learnt from with
        the event the run was carried from. Headers it cannot find there (no topic, no
        causation) never make it skip: the handler then reads them."""
        name = (header(block, _TOPIC) or "").rpartition(".")[2]
        if not name:
            return False
        cause = header(block, _CAUSATION)
        if asks_for_work(name, cause) or self.learning.learns_from_run(name, cause):
            return False
        self.failpoints.reach(f"before-ack:{name}")
        return True

    def handle(self, item: WorkItem) -> float | None:
        """One run event: None once its steps are stored, else seconds until it comes again.
        Handled in the trace of the command that stored the event, with its correlation id
        in the logs."""
        with bound(correlation_id=item.headers.get(h.CORRELATION_ID)):
            if not tracing.enabled():
                return self._handle(item)
            topic = item.headers.get(h.TOPIC, "")
            attributes = tracing.messaging(
                "process",
                item.subject,
                **{
                    "messaging.consumer.group.name": self.work.spec.durable,
                    "cairn.stream.sequence": item.stream_sequence,
                    "cairn.deliveries": item.deliveries,
                },
            )
            name = f"process {topic.rpartition(':')[2]}"
            with tracing.consuming(name, item.headers, attributes):
                return self._handle(item)

    def _handle(self, item: WorkItem) -> float | None:
        """The run's steps first; then, once they are stored, what the learner learns from the
        run (the learner's own consumer is not sent run events: decision 0047): after a
        waking event, from the run as those steps left it (completed, often; handed over,
        not loaded again); after a completion saved elsewhere, from that. Until both are
        done the event is not acknowledged; a learner failure is retried on the learner's
        terms and never fails the run."""
        again, left = self._advance(item)
        if again is not None:
            return again
        name = item.headers.get(h.TOPIC, "").rpartition(".")[2]
        if self.learning.learns_from_run(name, item.headers.get(h.CAUSATION_ID)):
            again = self.learning.handle(item, left)
        if again is None:
            self.failpoints.reach(f"before-ack:{name}")
        return again

    def _advance(self, item: WorkItem) -> tuple[float | None, Run | None]:
        """The run's steps: None once stored (with the run as they left it, if known), else
        seconds until the event comes again."""
        if self._observe is not None:
            self._observe(item.subject)
        try:
            tenant, topic, run_id = h.event_origin(item.subject, item.headers)
            event = RunEvent(
                UUID(tenant),
                UUID(str(run_id)),
                topic.rpartition(".")[2],
                item.headers.get(h.CAUSATION_ID),
                item.stream_sequence,
            )
        except (KeyError, ValueError):
            logger.error(
                "not a run event: %s (seq %d); skipped", item.subject, item.stream_sequence
            )
            return None, None
        try:
            with _step_span(event):
                taken = self.runs.on_event(event)
            return None, taken.run if taken is not None else None
        except TRANSIENT as exc:
            logger.warning("run %s: %s waits for a dependency (%r)", event.run_id, event.name, exc)
            return backoff(item.deliveries), None
        except Exception as exc:
            if item.deliveries < GIVE_UP_AFTER:
                logger.exception("run %s: %s failed; will retry", event.run_id, event.name)
                return backoff(item.deliveries), None
            logger.exception(
                "run %s: %s failed %d times; failing the run",
                event.run_id,
                event.name,
                item.deliveries,
            )
            try:
                self.runs.fail_stuck(event, item.deliveries, type(exc).__name__)
            except Exception:
                logger.exception("run %s could not be failed; will retry", event.run_id)
                return MAX_BACKOFF_S, None
        return None, None

    def _fire(self, timer: Timer) -> None:
        if not tracing.enabled():
            self._fire_untraced(timer)
            return
        with _tracer.start_as_current_span(f"fire {timer.kind}", context=tracing.root()):
            self._fire_untraced(timer)

    def _fire_untraced(self, timer: Timer) -> None:
        connections = self.services.connections
        if timer.kind in FEED_TIMERS:
            self.services.feeds.on_timer(timer)
        elif timer.kind in MAIL_TIMERS:
            self.services.mail.on_timer(timer)
        elif is_connection_timer(timer) and connections is not None:
            on_connection_timer(timer, connections)
        else:
            self.runs.on_timer(timer)

    def fire_timers(self) -> None:
        """Fire due timers until stopped; sleep until the next one is due (at most a second,
        so a timer set by another process is seen within one)."""
        pruning_set = False
        while not self.stopping.is_set():
            pause = 1.0
            try:
                if not pruning_set:  # once per start; each pruning sets the next one
                    prune_soon(self.timers, self.clock())
                    pruning_set = True
                self.timers.fire_due(self.clock(), self._fire)
                due = self.timers.next_due()
                if due is not None:
                    pause = min(pause, (due - self.clock()).total_seconds())
            except Exception as exc:
                logger.warning("timers paused (%r)", exc)
            self.stopping.wait(max(pause, 0.01))

    def reembed(self) -> None:
        """Re-embed what is behind its tenant's model, at start and every REEMBED_EVERY_S."""
        while not self.stopping.is_set():
            try:
                self.reembedder.run_pass(self.stopping.is_set)
            except Exception as exc:
                logger.warning("re-embedding paused (%r)", exc)
            self.stopping.wait(REEMBED_EVERY_S)

    def run(self, ready: threading.Event | None = None) -> None:
        """Consume run events and fire timers until `stop()`."""
        timers = threading.Thread(target=self.fire_timers, name="cairn-timers", daemon=True)
        timers.start()
        threading.Thread(target=self.reembed, name="cairn-reembed", daemon=True).start()
        depth = gauges.watch(gauges.WORKER_QUEUE_DEPTH, self.work.queue_depth)
        try:
            loops.run(self._consume(ready))
        finally:
            depth.close()
            self.stopping.set()
            timers.join(5)
            if self._own_services:
                self.services.close()

    async def _consume(self, ready: threading.Event | None) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()

        def watch() -> None:
            self.stopping.wait()
            loop.call_soon_threadsafe(stopping.set)

        threading.Thread(target=watch, name="cairn-worker-stop", daemon=True).start()
        learning = asyncio.Event()
        await asyncio.gather(
            self.work.run(stopping, learning.set),
            self.learning.work.run(stopping, lambda: self._ready(learning, ready)),
        )

    @staticmethod
    def _ready(runs: asyncio.Event, ready: threading.Event | None) -> None:
        """Ready once both consumers exist (the learner's starts at the stream's end)."""
        if ready is not None:
            asyncio.get_running_loop().create_task(_when(runs, ready))

    def stop(self) -> None:
        self.stopping.set()
