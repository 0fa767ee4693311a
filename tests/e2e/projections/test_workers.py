"""What `cairn up` starts: the projectors in one worker process that reads the stream once for
all of them (or spread over more with CAIRN_PROJECTOR_GROUPS), restarted when it dies."""

from __future__ import annotations

import dataclasses
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


@pytest.mark.long(14)
@pytest.mark.parametrize("groups", [1, len(projector_registry.PROJECTORS)])
def test_the_projectors_run_in_their_processes_and_come_back(
    cairn: Cairn, cairn_settings: CairnSettings, groups: int
) -> None:
    ada = cairn.sign_up("workers")
    cairn_settings = dataclasses.replace(cairn_settings, projector_groups=groups)
    settings = projection_settings(cairn_settings)
    source = EventSource(settings.event_store_env)
    projectors = list(projector_registry.PROJECTORS.values())
    names = (
        {"projectors"}
        if groups == 1
        else {f"projector-{name}" for name in projector_registry.PROJECTORS}
    )
    killed = "projectors" if groups == 1 else "projector-directory_users"

    def all_running() -> bool:
        found = operations.status(settings, source, projectors)
        return all(s.running and (s.position or 0) >= ada.session["position"] for s in found)

    workers = start_projector_workers(cairn_settings)
    try:
        assert set(workers.processes) == names
        _until(all_running, "every projector to run")
        first = workers.processes[killed]
        os.kill(first.pid, signal.SIGKILL)
        _until(lambda: workers.processes[killed] is not first, "a restart")
        _until(all_running, "the restarted projectors")
    finally:
        workers.stop()
        source.close()
    assert all(p.poll() is not None for p in workers.processes.values())
    assert (cairn_settings.data_dir / "logs" / f"{killed}.log").exists()
