"""`cairn worker`: advance runs from their events (any number of these, on any host); and the
worker processes `cairn up` runs (`start_run_workers`)."""

from __future__ import annotations

import signal
import sys
from types import FrameType

from adapters.lifetime import freeze_start_up
from adapters.llm.gateway import first_call_done
from adapters.telemetry.setup import start_process
from commands.settings import CairnSettings
from commands.worker_service import WorkerService
from entrypoints.children import ChildProcesses, child_env
from entrypoints.guarded import run_guarded


def run_worker() -> None:
    """Follow the run events until SIGTERM / Ctrl-C, which finish the steps in hand."""
    settings = CairnSettings.from_env()
    telemetry = start_process("cairn-worker", settings.log_format)
    service = WorkerService(settings)
    settle()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        service.run()
    finally:
        telemetry.shutdown()  # exports what is buffered


def settle() -> None:
    """Import litellm and its call path now (one offline mock call, ~0.3 s of CPU, decision
    0045), not inside the first person's plan; then freeze what start-up made (decision 0070:
    a run makes many short-lived objects, litellm's and pydantic's)."""
    first_call_done()
    freeze_start_up()


def start_run_workers(settings: CairnSettings) -> ChildProcesses:
    """Start `settings.workers` run worker processes; call `.stop()` on shutdown."""
    commands = {
        f"worker-{n}": [sys.executable, "-m", "entrypoints.worker_cli"]
        for n in range(1, settings.workers + 1)
    }
    return ChildProcesses(child_env(settings), commands, settings.data_dir / "logs").start()


if __name__ == "__main__":
    run_guarded(run_worker)
