"""One projector's worker: keeps the active generation up to date, builds new ones beside it.

A generation has one writer at a time: a session advisory lock on a connection of its own
(released by PostgreSQL when the process dies, even by `kill -9`). The tracking check of each
batch (views.commit) keeps exactly-once even if two writers ever overlapped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from domain.errors import DomainError
from projections.engine import dead_letters, generations
from projections.engine.batch_processor import BatchProcessor, Refused
from projections.engine.catch_up import catch_up
from projections.engine.commit_pipeline import LINGER_S, CommitPipeline
from projections.engine.errors import ProjectorStopped, SourceMismatch
from projections.engine.event_source import EventSource
from projections.engine.generation_lock import GenerationLock
from projections.engine.notification_feed import Feed
from projections.engine.projector_base import Projector
from projections.engine.shared_reading import Lane, SharedReader
from projections.engine.view_recorder import HoldsChanged, ViewRecorder, datastore, is_transient
from projections.engine.view_signals import CHECK_ANYWAY_S, IDLE_LINGER_S, ViewSignals
from projections.settings import ProjectionSettings

logger = logging.getLogger("cairn.projections")

Progress = Callable[[int, int], None]  # (position reached, store position)
_CHECK_EVERY = 1.0  # seconds between checks that the followed generation is still active
_NOTICE_S = 0.05  # while a batch lingers, how often a worker looks for a waiting query


class Worker:
    def __init__(
        self,
        cls: type[Projector],
        settings: ProjectionSettings,
        source: EventSource,
        *,
        wait_for_retry: bool = True,
        reading: SharedReader | None = None,
        signals: ViewSignals | None = None,
    ) -> None:
        self.cls = cls
        self.settings = settings
        self.source = source
        # The process's one reading of the stream (None: this worker reads it alone).
        self.reading = reading
        # What PostgreSQL says to the process's workers (None: ask it, decision 0038's way).
        self.signals = signals
        self.on_error = settings.on_error_for(cls)
        # A build with aggregates held back: wait for `retry` before switching to it, or not
        # (`rebuild`: ProjectorStopped, the build stays for `--resume`).
        self.wait_for_retry = wait_for_retry
        self.views = ViewRecorder(datastore(settings.database_url))
        self.state = "starting"  # for logs and in-process observers
        self.generation = 0  # the one being written
        self.position = 0
        self._admin: psycopg.Connection[Any] | None = None

    @contextmanager
    def admin(self) -> Iterator[psycopg.Connection[Any]]:
        """The worker's connection for bookkeeping (checked every second: kept open)."""
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.settings.database_url, autocommit=True)
        try:
            yield self._admin
        except psycopg.OperationalError:
            self._admin.close()  # broken: the next use connects again
            raise

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
        self.views.datastore.close()

    # ---- the long-running worker -----------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: follow the active generation; build a newer version first."""
        delay = 0.5
        while not stop.is_set():
            try:
                self._run_once(stop)
                delay = 0.5
            except Exception as error:
                expected = is_transient(error) or isinstance(error, DomainError)
                level = logging.WARNING if is_transient(error) else logging.ERROR
                logger.log(
                    level,
                    "projector %s: %s; again in %.1fs",
                    self.cls.name,
                    error,
                    delay,
                    exc_info=not expected,
                )
                self.state = f"error: {error}"
                stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _run_once(self, stop: threading.Event) -> None:
        with self.admin() as conn:
            active = generations.ensure_active(conn, self.cls, self.settings.source)
            if active.source != self.settings.source:
                raise SourceMismatch(
                    f"the {self.cls.name} view in this database was built from {active.source},"
                    f" not {self.settings.source}: give each event store its own database, or"
                    f" `cairn projector rebuild {self.cls.name}` to rebuild it from this one",
                    {"projector": self.cls.name},
                )
            if active.version > self.cls.version:
                self.state = f"waiting: the active view is version {active.version}"
                logger.error(
                    "projector %s v%d is older than the active view v%d; not running",
                    self.cls.name,
                    self.cls.version,
                    active.version,
                )
                stop.wait(30)
                return
            target = None
            if active.version < self.cls.version:
                target = generations.building(conn, self.cls, self.settings.source, fresh=False)
        if target is not None:
            logger.info(
                "projector %s: building version %d beside version %d",
                self.cls.name,
                self.cls.version,
                active.version,
            )
            self.build(target.generation, stop)
            return
        self.follow(active.generation, stop)

    # ---- building and following ------------------------------------------------------------

    def build(self, number: int, stop: threading.Event, progress: Progress | None = None) -> bool:
        """Catch generation `number` up with the store, then make it the active one; not while
        it holds aggregates back (the active view is more complete than it)."""
        while self.follow(number, stop, until_caught_up=True, progress=progress):
            with self.admin() as conn:
                held = dead_letters.holds(conn, self.cls.name)
                if not any(h.generation == number for h in held):
                    generations.switch(conn, self.cls, number)
                    return True
            message = (
                f"projector {self.cls.name}: generation {number} is built but holds back"
                f" aggregates behind parked events; `cairn projector retry {self.cls.name}`"
                " applies them (then `rebuild --resume` switches to it)"
            )
            if not self.wait_for_retry:
                raise ProjectorStopped(message, {"generation": number})
            self.state = "waiting: " + message
            logger.error(message)
            if stop.wait(5.0):
                return False
        return False

    def follow(
        self,
        number: int,
        stop: threading.Event,
        *,
        until_caught_up: bool = False,
        progress: Progress | None = None,
    ) -> bool:
        """Apply events to generation `number` until stopped, until it is no longer the active
        one, or (`until_caught_up`) until it reached the end of the store: then True."""
        lock = GenerationLock(self.settings.database_url, self.cls.name, number)
        if not lock.acquire(stop):
            return False
        projector = self.cls(number)
        feed: Feed | Lane | None = None
        commits: CommitPipeline | None = None
        try:
            processor = BatchProcessor(projector, self.source.decode, self.views, self.on_error, 0)
            self._restart(processor)
            start = processor.position
            target = self.source.max_position() if until_caught_up else 0
            self.state, self.generation, self.position = "running", number, start
            still_active = None if until_caught_up else self._active_check(number)
            advanced = self._advanced(progress)
            if not catch_up(
                self.settings, self.source, self.cls, processor, stop, advanced, still_active
            ):
                return False
            processor.live = not until_caught_up  # a build replays: links, no parents
            feed = self._feed(processor.position)
            # A build commits every batch (its position is the progress shown); a live view
            # lets batches that change none of its rows wait a little (decision 0038).
            commits = CommitPipeline(processor, 0.0 if until_caught_up else LINGER_S)
            while not stop.is_set():
                if until_caught_up and processor.position >= target:
                    target = self.source.max_position()
                    if processor.position >= target:
                        return True
                # The next batch is decoded and handled while the previous one commits; with
                # nothing arrived yet, the commit is waited for first.
                self._listen(commits)
                wait = 0.0 if commits.busy else commits.wait_s(self._longest_wait(commits))
                batch = feed.take(self.settings.batch_size, wait, commits.wake_for)
                try:
                    refused = commits.submit(processor.prepare(batch)) if batch else commits.tick()
                except HoldsChanged as changed:
                    logger.info("projector %s: %s", projector.name, changed)
                    refused = Refused(processor.position, str(changed))
                if batch and progress is not None:
                    progress(processor.position, max(target, processor.position))
                self.position = processor.position
                if refused is not None:
                    # What was prepared since did not know the holds as they are now.
                    feed.close()
                    self._restart(processor)
                    feed = self._feed(processor.position)
                if still_active is not None and not still_active():
                    return False
            commits.flush()  # a clean stop: a restart goes on from where this one read
            return False
        finally:
            if commits is not None:
                commits.close()  # the batch in flight is finished before the lock goes
            if feed is not None:
                feed.close()
            lock.release()

    def _feed(self, after: int) -> Feed | Lane:
        if self.reading is None:
            return Feed(self.source, after)
        return Lane(self.reading, after, self.cls.name)

    def _advanced(self, progress: Progress | None) -> Progress:
        def advanced(position: int, target: int) -> None:
            self.position = position
            if progress is not None:
                progress(position, target)

        return advanced

    def _listen(self, commits: CommitPipeline) -> None:
        """Batches that only move the tracking position wait long while queries that wait
        for them are heard (and are hurried then), 0.1 s otherwise (decision 0054)."""
        signals = self.signals
        if signals is None or not commits.processor.live:
            return  # a build commits every batch: its position is its progress
        commits.linger = IDLE_LINGER_S if signals.listening else LINGER_S
        wanted = signals.wanted(self.cls.name)
        if wanted > commits.processor.position:
            commits.hurry(wanted)

    def _longest_wait(self, commits: CommitPipeline) -> float:
        return _NOTICE_S if self.signals is not None and commits.lingering else 0.2

    def _active_check(self, number: int) -> Callable[[], bool]:
        """Whether generation `number` is still the active one, asked of the database when a
        switch was heard (or every `CHECK_ANYWAY_S`), or every `_CHECK_EVERY` seconds while
        nobody listens (True in between)."""
        signals = self.signals
        checked = time.monotonic()
        seen: int | None = None  # the switches heard at the last check (None: not checked)

        def still_active() -> bool:
            nonlocal checked, seen
            now = time.monotonic()
            if signals is not None and signals.listening:
                heard = signals.switches(self.cls.name)
                if heard == seen and now - checked < CHECK_ANYWAY_S:
                    return True
            else:
                heard = None
                if now - checked < _CHECK_EVERY:
                    return True
            checked, seen = now, heard  # `heard` is read before the database is asked
            if self._still_active(number):
                return True
            logger.info("projector %s: generation %d was switched away from", self.cls.name, number)
            return False

        return still_active

    def _still_active(self, number: int) -> bool:
        with self.admin() as conn:
            current = generations.active(conn, self.cls.name)
        return current is not None and current.generation == number

    def _restart(self, processor: BatchProcessor) -> None:
        """Continue from the recorded position with the recorded holds."""
        projector = processor.projector
        processor.position = self.views.position(projector.tracking_name) or 0
        with self.admin() as conn:
            processor.held = dead_letters.held_aggregates(
                conn, projector.name, projector.generation
            )
