"""Catching up with worker processes: they read, decode and handle ranges of the store; the
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
and each keeps one connection to the event store. A range is a few thousand positions:
long enough to be read through a consumer (a fraction of a direct get's server cost), short
enough that the committing process never waits long for the next one.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from projections import tuning
from projections.dumped import dump_bulk
from projections.projector import OnError, Projector, Writes
from projections.runner import prepare
from projections.source import EventSource

RANGE = 5000  # positions per task
AHEAD = 2  # tasks queued per process beyond the one it works on

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Ready:
    """One batch prepared by a worker process."""

    writes: Writes  # bulk rows already dumped (projections.dumped)
    end: int | None  # the position it commits up to (None: nothing before a poison event)
    serial_from: int | None = None  # a poison event (stop mode): the in-process path takes over


class _Worker:
    """What one worker process keeps between tasks."""

    def __init__(self, env: Mapping[str, str], projector: Projector, on_error: OnError) -> None:
        self.source = EventSource(env)
        self.projector = projector
        self.on_error = on_error

    def prepare_range(self, first: int, last: int, batch: int) -> list[Ready]:
        found = self.source.recorder.select_notifications(first, last - first + 1, stop=last)
        if not found:  # internal records only: the tracking moves past them
            return [Ready(Writes(), last)]
        ready: list[Ready] = []
        for start in range(0, len(found), batch):
            part = found[start : start + batch]
            prepared = prepare(self.projector, self.source.decode, self.on_error, part)
            if prepared.poison is not None:
                poison = prepared.poison[0].id
                return [*ready, Ready(dump_bulk(prepared.writes), prepared.end, poison)]
            end = last if start + batch >= len(found) else part[-1].id
            ready.append(Ready(dump_bulk(prepared.writes), end))
        return ready


_worker: _Worker | None = None


def _start(
    parent: int, env: Mapping[str, str], cls: type[Projector], generation: int, on_error: OnError
) -> None:
    """Initialiser of a worker process."""
    global _worker
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:  # the projector died while this process was starting
        os._exit(1)
    tuning.settle()
    _worker = _Worker(env, cls(generation), on_error)


def _prepare_range(first: int, last: int, batch: int) -> list[Ready]:
    assert _worker is not None, "not a catch-up worker process"
    return _worker.prepare_range(first, last, batch)


def importable(cls: type[Projector]) -> bool:
    """Worker processes import the projector class by module and name: not one made inside
    a function."""
    try:
        pickle.dumps(cls)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


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
    ) -> None:
        self.processes = processes
        self.batch = batch
        self._pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(os.getpid(), dict(env), cls, generation, on_error),
        )

    def batches(self, after: int, target: int) -> Iterator[Ready]:
        """The batches after position `after` up to `target`, in order. A batch that ends at a
        poison event is the last one."""
        pending: deque[Future[list[Ready]]] = deque()
        first = after + 1
        while True:
            while len(pending) < self.processes * (1 + AHEAD) and first <= target:
                last = min(first + RANGE - 1, target)
                pending.append(self._pool.submit(_prepare_range, first, last, self.batch))
                first = last + 1
            if not pending:
                return
            for ready in pending.popleft().result():
                yield ready
                if ready.serial_from is not None:
                    return

    def close(self) -> None:
        """Stop the worker processes (a range in progress is finished first, and dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
