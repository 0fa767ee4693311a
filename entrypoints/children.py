"""The worker processes `cairn up` runs beside the API (projectors, run workers): each
restarted if it dies (backoff up to 30 s), all stopped with `stop()` or with the parent."""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from adapters.lifetime import die_with_parent
from commands.settings import CairnSettings

logger = logging.getLogger("cairn.up")


def child_env(settings: CairnSettings) -> dict[str, str]:
    """The environment that points a child process at the same servers and stream."""
    return {**os.environ, **settings.as_env()}


class ChildProcesses:
    def __init__(
        self, env: Mapping[str, str], commands: Mapping[str, list[str]], log_dir: Path
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(env)
        self.log_dir = log_dir
        self.commands = dict(commands)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._stopping = threading.Event()
        self._started = threading.Event()
        # The parent-death signal follows the forking thread: every child is forked by this
        # thread, which lives until stop().
        self._monitor = threading.Thread(target=self._watch, name="cairn-children", daemon=True)

    def start(self) -> ChildProcesses:
        self._monitor.start()
        self._started.wait(30)
        return self

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                self.commands[name],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches `cairn up`, which stops them in order
                preexec_fn=functools.partial(die_with_parent, signal.SIGTERM),
            )

    def _watch(self) -> None:
        for name in self.commands:
            self.processes[name] = self._spawn(name)
        self._started.set()
        delay = dict.fromkeys(self.commands, 1.0)
        while not self._stopping.wait(1.0):
            for name, process in list(self.processes.items()):
                code = process.poll()
                if code is None:
                    continue
                logger.error("%s exited with %s; restarting in %.0fs", name, code, delay[name])
                if self._stopping.wait(delay[name]):
                    return
                delay[name] = min(delay[name] * 2, 30.0)
                self.processes[name] = self._spawn(name)

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        self._monitor.join(timeout)
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
