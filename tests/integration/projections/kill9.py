"""The scenario of engine/test_kill9_exactly_once*.py: `kill -9` a projector worker
(`cairn projector run all`) at random points while it projects events, some already stored and
some arriving (issue #5: 20 kills over 20,000 events, `ISSUE_5`): the views then equal a
rebuild from zero, row for row. Counters
(device and passkey counts) would drift on a doubled or lost event; a doubled security event
would break a unique key (and be parked)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psutil
import pytest
from eventsourcing.application import Application

from infra.stack.launcher import StackEndpoints
from projections.engine import operations, projector_registry
from projections.engine.event_source import EventSource
from projections.engine.view_reads import current_position
from projections.settings import ProjectionSettings
from tests.integration.projections.support import Generator, admin, cairn_env, differences


@dataclass(frozen=True)
class Scale:
    backlog: int  # stored before the first worker starts: the first kills land in catch-up
    live: int  # written while the worker is being killed: later kills land in live mode
    kills: int


ISSUE_5 = Scale(backlog=14_000, live=6_000, kills=20)  # issue #5's must-show: 20 x 20,000
SECURITY_EVENT = "domain.identity.credential:SecurityEvent.SecurityEventRecorded"


def _ended(process: psutil.Process) -> bool:
    """Exited: gone, or a zombie (orphaned, it waits for PID 1 to reap it, which in some
    containers is no init and takes its time)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def stop_spawned(started: list[subprocess.Popen[bytes]]) -> None:
    """The projector processes a test started: none outlives it, whatever failed."""
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Scene:
    """What the scenario runs on: a test's own stack, stream, database and directory."""

    stack: StackEndpoints
    database: str
    unique_name: str
    store: Application[uuid.UUID]
    settings: ProjectionSettings
    source: EventSource
    tmp_path: Path
    spawned: list[subprocess.Popen[bytes]]  # every process started, killed after the test


def kill9_at_random_points(processes: dict[str, str], scene: Scene, scale: Scale) -> None:
    """`scale.kills` kills while projecting `scale.backlog` stored then `scale.live` arriving
    events, the projector configured by `processes` (its environment)."""
    stack, database, unique_name = scene.stack, scene.database, scene.unique_name
    store, settings, source = scene.store, scene.settings, scene.source
    tmp_path, spawned = scene.tmp_path, scene.spawned
    generator = Generator(store, database_url=database)
    backlog, live, kills = scale.backlog, scale.live, scale.kills
    generator.write(backlog)
    writer_error: list[BaseException] = []
    kill_points: list[int] = []

    def keep_writing() -> None:
        try:
            while generator.written < backlog + live:
                # Spread over the rounds, however long a restart takes: kills keep landing
                # mid-projection, and every round has events to project.
                if generator.written < backlog + live * (len(kill_points) + 1) // kills:
                    generator.batch(100)
                time.sleep(0.15)
        except BaseException as error:
            writer_error.append(error)

    writer = threading.Thread(target=keep_writing)
    env = {**os.environ, **cairn_env(stack, database, unique_name), **processes}
    argv = [sys.executable, "-m", "entrypoints.projector_cli", "run", "all"]
    names = list(projector_registry.PROJECTORS)
    rng = random.Random()
    log_path = tmp_path / "worker.log"
    log = log_path.open("ab")

    def spawn() -> subprocess.Popen[bytes]:
        spawned.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))
        return spawned[-1]

    with admin(database) as conn:

        def total() -> int:
            return sum(current_position(conn, name) or 0 for name in names)

        def beyond(position: int) -> Callable[[], bool]:
            return lambda: total() > position

        last = 0
        helped = 0  # catch-up processes the killed workers had
        worker = spawn()
        for round_ in range(kills):
            # The next worker starts now and waits for the generation locks: it takes over as
            # soon as PostgreSQL ends the killed worker's sessions (as a supervisor would).
            standby = spawn()
            try:
                # A liveness bound, not a speed goal: the first round spawns two catch-up
                # processes per view (ten with five views), slow on a loaded 2-core machine.
                _wait(beyond(last), 90, f"progress in round {round_}")
                if round_ == 0:
                    writer.start()
                time.sleep(rng.uniform(0.0, 0.3))
            finally:
                helpers = psutil.Process(worker.pid).children()
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait()
            # Catch-up processes die with their projector: none is left behind.
            helped += len(helpers)
            for helper in helpers:
                _wait(partial(_ended, helper), 30, f"catch-up process {helper.pid} to end")
            last = total()
            kill_points.append(last)
            worker = standby
        writer.join()
        assert not writer_error, writer_error
        end = source.max_position()

        # The last one runs until it has everything, and is stopped politely.
        try:
            _wait(
                lambda: all((current_position(conn, n) or 0) >= end for n in names),
                60,
                "the final catch-up",
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(15) == 0
        assert len(set(kill_points)) == kills, f"no progress between kills: {kill_points}"
        if processes["CAIRN_PROJECTOR_PROCESSES"] != "0":
            assert helped > 0 and b"catching up with 2 processes" in log_path.read_bytes()
        else:
            assert helped == 0

        for cls in projector_registry.PROJECTORS.values():
            killed = conn.execute(
                "SELECT generation FROM projection_generations"
                " WHERE projector = %s AND status = 'active'",
                (cls.name,),
            ).fetchone()
            assert killed is not None
            rebuilt = operations.rebuild(settings, source, cls, threading.Event())
            assert rebuilt is not None and rebuilt != killed[0]
            for table, (ours, theirs, differ) in differences(conn, cls, killed[0], rebuilt).items():
                assert ours > 0 and ours == theirs and differ == 0, (
                    f"{table}: {ours} rows after the kills, {theirs} rebuilt, {differ} differ"
                )
        parked = conn.execute("SELECT count(*) FROM projection_dead_letters").fetchone()
        assert parked == (0,)
        users = sum(len(u) for u in generator.users.values())
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM directory_users), (SELECT count(*) FROM security_events)"
        ).fetchone()
        assert counts is not None and counts[0] == users
        facts = source.recorder.select_notifications(0, 10**6, topics=[SECURITY_EVENT])
        assert counts[1] == len(facts)
        assert generator.written >= backlog + live
