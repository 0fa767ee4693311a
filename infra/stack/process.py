"""A server child process that dies with its parent and is stopped politely, then firmly."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from adapters.lifetime import die_with_parent

_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-spawner")


class ManagedProcess:
    """One server process with its log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        user: str | None = None,
        cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.user = user
        self.cwd = cwd
        self.stop_signal = stop_signal
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def start(self) -> None:
        # Linux ties the parent-death signal to the forking *thread*: fork from one thread that
        # lives as long as the process, so a server started from a short-lived thread survives
        # that thread but never the process.
        self._popen = _SPAWNER.submit(self._spawn).result()

    def _spawn(self) -> subprocess.Popen[bytes]:
        log = self.log_path.open("ab")
        try:
            return subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                user=self.user,
                # Own session: Ctrl-C in the terminal reaches Cairn, which stops servers in order.
                start_new_session=True,
                # A parent killed with SIGKILL still takes its servers down: no orphans even
                # without a clean shutdown.
                preexec_fn=functools.partial(die_with_parent, self.stop_signal),
            )
        finally:
            log.close()

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return None if self._popen is None else self._popen.poll()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self._popen is None or self._popen.poll() is not None:
            return
        terminate_tree(self._popen.pid, self.stop_signal, timeout)
        self._popen.wait(timeout=timeout)


def terminate_tree(pid: int, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Signal a process, wait, then SIGKILL it and any child it left behind."""
    try:
        parent = psutil.Process(pid)
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    _gone, alive = psutil.wait_procs([parent], timeout=timeout)
    for proc in [*alive, *children]:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(children, timeout=timeout)
