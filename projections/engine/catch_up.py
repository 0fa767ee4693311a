"""Catching up with worker processes: they read, decode and handle chunks of the store; the
projector's own process commits their batches, one at a time and in order.

Why (decision 0007): one process projects ~12-15k events/s, bound by its interpreter lock
(reading, the library's decoding, psycopg dumping). Handlers are pure (they only append
statements), so a range of the store can be prepared anywhere; only the commit, which
checks and moves the tracking position, must stay in one place and in order. Exactly-once
and the poison rules are therefore those of the in-process path: each batch is one
transaction with its tracking position, and anything unusual (a handler failure in stop
mode, a batch the database refuses) ends the parallel run, so that the in-process path
meets that event and deals with it as always.

Worker processes are started with `spawn` (the projector process has threads: forking it
is unsafe), die with it (PR_SET_PDEATHSIG, so a `kill -9` of the projector leaves none),
and each keeps one connection to the event store. The positions to catch up are cut into a
few large chunks, dealt to the processes in turn; a process reads its chunk front to back
with one consumer (creating a consumer costs nats-server time in proportion to the stream:
measured ~0.1 s on a 200,000-message stream, so one per small range tripled the server's CPU
per event) and sends each batch as soon as it is ready. The projector takes the chunks in
order, so the next chunk is being prepared while the current one is committed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from adapters.lifetime import die_with_parent
from projections.engine import tuning
from projections.engine.batch_processor import BatchProcessor, prepare
from projections.engine.bulk_parameters import dump_bulk
from projections.engine.event_source import EventSource
from projections.engine.projector_base import OnError, Projector, Writes
from projections.settings import ProjectionSettings

logger = logging.getLogger("cairn.projections")

READ = 5000  # notifications per read within a chunk (the read goes on with one consumer)
CHUNKS_PER_PROCESS = 4
MIN_CHUNK, MAX_CHUNK = 20_000, 200_000  # positions
_POLL = 1.0  # seconds between checks that a process waited for is alive


class CatchUpFailed(Exception):
    """A catch-up process failed or died: the projector starts again from its position."""


@dataclass(frozen=True)
class Ready:
    """One batch prepared by a worker process."""

    writes: Writes  # bulk rows already dumped (projections.engine.bulk_parameters)
    end: int | None  # the position it commits up to (None: nothing before a poison event)
    serial_from: int | None = None  # a poison event (stop mode): the in-process path takes over


@dataclass(frozen=True)
class _ChunkDone:
    pass


@dataclass(frozen=True)
class _Failed:
    trace: str


class _Worker:
    """What one worker process keeps between chunks."""

    def __init__(
        self, env: Mapping[str, str], projector: Projector, on_error: OnError, held: set[str]
    ) -> None:
        self.source = EventSource(env)
        self.projector = projector
        self.on_error = on_error
        self.held = held  # never grows here: a new poison event ends the parallel run

    def prepare_chunk(self, first: int, last: int, batch: int, read: int) -> Iterator[Ready]:
        """The batches of positions `first`..`last`; the last one commits up to `last` (past
        internal records). A batch that ends at a poison event (stop mode) is the last."""
        start = first
        while True:
            found = self.source.recorder.select_notifications(start, read, stop=last)
            final = len(found) < read
            for offset in range(0, len(found), batch):
                part = found[offset : offset + batch]
                prepared = prepare(
                    self.projector, self.source.decode, self.on_error, part, self.held, hold=False
                )
                if prepared.poison is not None:
                    poison = prepared.poison[0].id
                    yield Ready(dump_bulk(prepared.writes), prepared.end, poison)
                    return
                end = last if final and offset + batch >= len(found) else part[-1].id
                yield Ready(dump_bulk(prepared.writes), end)
            if final:
                if not found:  # internal records only: the tracking moves past them
                    yield Ready(Writes(), last)
                return
            start = found[-1].id + 1


def _lane(
    parent: int,
    env: Mapping[str, str],
    cls: type[Projector],
    generation: int,
    on_error: OnError,
    held: frozenset[str],
    batch: int,
    read: int,
    tasks: multiprocessing.Queue[tuple[int, int] | None],
    results: multiprocessing.Queue[Ready | _ChunkDone | _Failed],
) -> None:
    """A worker process: prepares the chunks it is given, in order, batch by batch."""
    die_with_parent(signal.SIGKILL)
    if os.getppid() != parent:  # the projector died while this process was starting
        os._exit(1)
    tuning.settle()
    try:
        worker = _Worker(env, cls(generation), on_error, set(held))
        while (chunk := tasks.get()) is not None:
            for ready in worker.prepare_chunk(*chunk, batch, read):
                results.put(ready)
            results.put(_ChunkDone())
    except Exception:
        results.put(_Failed(traceback.format_exc()))


def chunks(first: int, last: int, processes: int) -> list[tuple[int, int]]:
    """Positions `first`..`last` in a few chunks per process (fewer consumers to create),
    none so large that a process waiting its turn holds too much."""
    size = -(-(last - first + 1) // (processes * CHUNKS_PER_PROCESS))
    size = min(MAX_CHUNK, max(MIN_CHUNK, size))
    return [(start, min(start + size - 1, last)) for start in range(first, last + 1, size)]


def importable(cls: type[Projector]) -> bool:
    """Worker processes import the projector class by module and name: not one made inside
    a function."""
    try:
        pickle.dumps(cls)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


class _Lane:
    def __init__(self, context: Any, args: tuple[Any, ...], buffered: int) -> None:
        self.tasks: multiprocessing.Queue[tuple[int, int] | None] = context.Queue()
        # Bounded: a process that is far ahead waits instead of filling memory.
        self.results: multiprocessing.Queue[Ready | _ChunkDone | _Failed] = context.Queue(buffered)
        self.process: BaseProcess = context.Process(
            target=_lane, args=(*args, self.tasks, self.results), daemon=True
        )
        self.process.start()

    def take(self) -> Ready | _ChunkDone:
        while True:
            try:
                item = self.results.get(timeout=_POLL)
            except queue.Empty:
                if not self.process.is_alive():
                    code = self.process.exitcode
                    raise CatchUpFailed(f"a catch-up process died (exit code {code})") from None
                continue
            if isinstance(item, _Failed):
                raise CatchUpFailed(f"a catch-up process failed:\n{item.trace}")
            return item

    def close(self) -> None:
        self.process.kill()  # nothing of its own to save: what it prepared is dropped
        self.process.join(10)
        for channel in (self.tasks, self.results):
            channel.cancel_join_thread()
            channel.close()


class CatchUp:
    """Worker processes preparing the batches of one projector generation."""

    def __init__(
        self,
        env: Mapping[str, str],
        cls: type[Projector],
        generation: int,
        on_error: OnError,
        processes: int,
        batch: int,
        held: frozenset[str] = frozenset(),
    ) -> None:
        context = multiprocessing.get_context("spawn")
        args = (os.getpid(), dict(env), cls, generation, on_error, held, batch, READ)
        buffered = -(-MAX_CHUNK // batch) + 2  # batches: a whole chunk
        self._lanes: list[_Lane] = []
        try:
            for _ in range(processes):
                self._lanes.append(_Lane(context, args, buffered))
        except BaseException:
            self.close()
            raise

    def batches(self, after: int, target: int) -> Iterator[Ready]:
        """The batches after position `after` up to `target`, in order. A batch that ends at a
        poison event is the last one."""
        lanes = self._lanes
        dealt = chunks(after + 1, target, len(lanes))
        for index, chunk in enumerate(dealt):
            lanes[index % len(lanes)].tasks.put(chunk)
        for lane in lanes:
            lane.tasks.put(None)
        for index in range(len(dealt)):
            lane = lanes[index % len(lanes)]
            while not isinstance(item := lane.take(), _ChunkDone):
                yield item
                if item.serial_from is not None:
                    return

    def close(self) -> None:
        """Stop the worker processes."""
        for lane in self._lanes:
            lane.close()


def catch_up(
    settings: ProjectionSettings,
    source: EventSource,
    cls: type[Projector],
    processor: BatchProcessor,
    stop: threading.Event,
    advanced: Callable[[int, int], None],
    still_active: Callable[[], bool] | None = None,
) -> bool:
    """Far behind the store: apply what worker processes prepare, up to where the store is
    now. Stops early, leaving the rest to the in-process path, at a poison event or a batch
    the database refused. False: stopped, or switched away (`still_active`, asked after each
    batch, said so)."""
    target = source.max_position()
    if settings.catch_up_processes < 2 or target - processor.position < settings.catch_up_after:
        return True
    if not importable(cls):
        logger.warning("projector %s: not importable by name; catching up alone", cls.name)
        return True
    logger.info(
        "projector %s: %d events behind; catching up with %d processes",
        cls.name,
        target - processor.position,
        settings.catch_up_processes,
    )
    pool = CatchUp(
        settings.event_store_env,
        cls,
        processor.projector.generation,
        settings.on_error_for(cls),
        settings.catch_up_processes,
        settings.batch_size,
        frozenset(processor.held),
    )
    with contextlib.closing(pool):
        for ready in pool.batches(processor.position, target):
            if stop.is_set():
                return False
            if ready.end is not None and not processor.apply_whole(ready.writes, ready.end):
                break  # refused: the in-process path finds the event to blame
            advanced(processor.position, target)
            if still_active is not None and not still_active():
                return False
    return True
