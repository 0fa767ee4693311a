"""Projector workers in this process, one thread each, sharing one event-store connection,
one reading of the stream (decision 0041) and one listening connection to PostgreSQL (0054)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from types import TracebackType

from adapters.telemetry.metrics import Watch
from projections.engine.event_source import EventSource
from projections.engine.lag import Lag
from projections.engine.projector_base import Projector
from projections.engine.projector_worker import Worker
from projections.engine.shared_reading import SharedReader
from projections.engine.view_signals import ViewSignals
from projections.settings import ProjectionSettings

logger = logging.getLogger("cairn.projections")


class ProjectorHost:
    def __init__(self, settings: ProjectionSettings, projectors: Sequence[type[Projector]]):
        self.settings = settings
        self.projectors = list(projectors)
        self.stopping = threading.Event()
        self.workers: dict[str, Worker] = {}
        self._threads: list[threading.Thread] = []
        self._source: EventSource | None = None
        self._reading: SharedReader | None = None
        self._signals: ViewSignals | None = None
        self._watches: list[Watch] = []

    def start(self) -> ProjectorHost:
        self._source = EventSource(self.settings.event_store_env)
        self._reading = SharedReader(self._source)
        self._signals = ViewSignals(self.settings.database_url).start()
        for cls in self.projectors:
            worker = Worker(
                cls, self.settings, self._source, reading=self._reading, signals=self._signals
            )
            self.workers[cls.name] = worker
            thread = threading.Thread(
                target=worker.run, args=(self.stopping,), name=f"projector-{cls.name}"
            )
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        self._watches = Lag(self._source, self.positions).watch()
        logger.info("projectors running: %s", ", ".join(self.workers))
        return self

    def positions(self) -> dict[str, int]:
        """The position each projector reached."""
        return {name: worker.position for name, worker in self.workers.items()}

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the batch in hand, then stop (a batch is one transaction either way)."""
        self.stopping.set()
        if self._reading is not None:  # a worker waiting for events sees the stop at once
            self._reading.stop_waiting()
        for watch in self._watches:
            watch.close()
        for thread in self._threads:
            thread.join(timeout)
        for worker in self.workers.values():
            worker.close()
        if self._signals is not None:
            self._signals.close()
            self._signals = None
        if self._reading is not None:
            self._reading.close()
            self._reading = None
        if self._source is not None:
            self._source.close()
            self._source = None

    def wait(self) -> None:
        """Block until stop() is called from elsewhere (e.g. a signal handler)."""
        while not self.stopping.wait(1.0):
            pass

    def __enter__(self) -> ProjectorHost:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
