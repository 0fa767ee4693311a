"""What `cairn up` starts: one worker process per projector, restarted when it dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from commands.settings import CairnSettings
from entrypoints.projector_cli import projection_settings, start_projector_workers
from projections.engine import operations, projector_registry
from projections.engine.event_source import EventSource
from tests.support.in_process import Cairn

pytestmark = pytest.mark.e2e


def _until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_every_projector_runs_as_its_own_process_and_comes_back(
    cairn: Cairn, cairn_settings: CairnSettings
) -> None:
    ada = cairn.sign_up("workers")
    settings = projection_settings(cairn_settings)
    source = EventSource(settings.event_store_env)
    projectors = list(projector_registry.PROJECTORS.values())

    def all_running() -> bool:
        found = operations.status(settings, source, projectors)
        return all(s.running and (s.position or 0) >= ada.session["position"] for s in found)

    workers = start_projector_workers(cairn_settings)
    try:
        assert set(workers.processes) == {
            f"projector-{name}" for name in projector_registry.PROJECTORS
        }
        _until(all_running, "every projector to run")
        first = workers.processes["projector-directory_users"]
        os.kill(first.pid, signal.SIGKILL)
        _until(lambda: workers.processes["projector-directory_users"] is not first, "a restart")
        _until(all_running, "the restarted projector")
    finally:
        workers.stop()
        source.close()
    assert all(p.poll() is not None for p in workers.processes.values())
    assert (cairn_settings.data_dir / "logs" / "projector-directory_users.log").exists()
