"""What a workload cost the server, measured from outside its processes: CPU time and context
switches per process tree, fsyncs of the event store, PostgreSQL's WAL syncs and commits,
events appended."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

Snapshot = dict[int, float]
# (process, thread) -> (voluntary, involuntary) context switches so far.
Switches = dict[tuple[int, int], tuple[int, int]]


def _own_cpu(process: psutil.Process) -> float:
    # A process's own time plus that of its children it has reaped (a PostgreSQL backend that
    # ended is still counted, in the postmaster's children times).
    t = process.cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


def _thread_switches(pid: int) -> Switches:
    found: Switches = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                status = (task / "status").read_text()
            except OSError:
                continue  # the thread ended
            counts = dict(line.split(":", 1) for line in status.splitlines() if "ctxt" in line)
            found[(pid, int(task.name))] = (
                int(counts.get("voluntary_ctxt_switches", "0")),
                int(counts.get("nonvoluntary_ctxt_switches", "0")),
            )
    return found


class ProcessTrees:
    """CPU seconds and context switches of named groups of process trees (a root and all its
    descendants)."""

    def __init__(self, groups: Mapping[str, Iterable[int]], alone: Iterable[str] = ()) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self.alone = set(alone)  # groups counted without their descendants

    def _processes(self, name: str) -> list[psutil.Process]:
        found: list[psutil.Process] = []
        for pid in self.groups[name]:
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(pid)
                found.append(root)
                if name not in self.alone:
                    found.extend(root.children(recursive=True))
        return found

    def snapshot(self) -> dict[str, Snapshot]:
        found: dict[str, Snapshot] = {}
        for name in self.groups:
            found[name] = {}
            for process in self._processes(name):
                with contextlib.suppress(psutil.NoSuchProcess):
                    found[name][process.pid] = _own_cpu(process)
        return found

    def switch_snapshot(self) -> dict[str, Switches]:
        """Context switches of every thread of each group (Linux's /proc; empty elsewhere):
        /proc/<pid>/status counts the main thread alone, so each thread is read."""
        return {
            name: {k: v for p in self._processes(name) for k, v in _thread_switches(p.pid).items()}
            for name in self.groups
        }

    @staticmethod
    def switched(
        before: dict[str, Switches], after: dict[str, Switches]
    ) -> dict[str, tuple[int, int]] | None:
        """(voluntary, involuntary) switches per group between two snapshots (threads started
        meanwhile count whole; those that ended meanwhile are not counted); None where /proc
        could not be read."""
        if not any(after.values()):
            return None
        spent: dict[str, tuple[int, int]] = {}
        for name, now in after.items():
            was = before.get(name, {})
            voluntary = sum(v - was.get(key, (0, 0))[0] for key, (v, _) in now.items())
            involuntary = sum(i - was.get(key, (0, 0))[1] for key, (_, i) in now.items())
            spent[name] = (voluntary, involuntary)
        return spent

    @staticmethod
    def spent(before: dict[str, Snapshot], after: dict[str, Snapshot]) -> dict[str, float]:
        """CPU seconds per group between two snapshots (processes started meanwhile count
        whole; one that ended is counted by its parent if the parent reaped it)."""
        return {
            name: sum(cpu - before.get(name, {}).get(pid, 0.0) for pid, cpu in now.items())
            for name, now in after.items()
        }


class SyscallCounter:
    """fsync and fdatasync calls of some processes, counted by the kernel's syscall
    tracepoints through `perf stat` (no stop of the counted process, unlike strace).
    `available` is False where perf or its tracepoints cannot be used."""

    EVENTS = ("syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync")

    def __init__(self, pids: Iterable[int]) -> None:
        self.pids = ",".join(str(p) for p in pids)
        self.perf = shutil.which("perf")
        self.available = self.perf is not None and self._probe()
        self._process: subprocess.Popen[bytes] | None = None
        self._output = Path(tempfile.mkstemp(prefix="cairn-perf-", suffix=".csv")[1])

    def _probe(self) -> bool:
        assert self.perf is not None
        try:
            probe = subprocess.run(
                [self.perf, "stat", "-x,", "-e", ",".join(self.EVENTS), "true"],
                capture_output=True,
                timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return probe.returncode == 0 and b"not supported" not in probe.stderr

    def start(self) -> None:
        if not self.available:
            return
        assert self.perf is not None
        events = ",".join(self.EVENTS)
        self._process = subprocess.Popen(
            [self.perf, "stat", "-x,", "-o", str(self._output), "-e", events, "-p", self.pids],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> int | None:
        """The calls counted since `start`, or None if they could not be counted."""
        if self._process is None:
            return None
        self._process.send_signal(signal.SIGINT)
        self._process.wait(20)
        self._process = None
        total = 0
        for line in self._output.read_text().splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2] in self.EVENTS:
                if not fields[0].strip().isdigit():
                    return None
                total += int(fields[0])
        self._output.unlink(missing_ok=True)
        return total


@dataclass(frozen=True)
class StoreCounters:
    events: int  # messages stored by nats-server (every stream: events, markers, records)
    wal_syncs: int  # PostgreSQL WAL syncs (the whole server)
    commits: int  # PostgreSQL transactions committed in Cairn's database

    def __sub__(self, other: StoreCounters) -> StoreCounters:
        return StoreCounters(
            self.events - other.events,
            self.wal_syncs - other.wal_syncs,
            self.commits - other.commits,
        )


def store_counters(nats_monitor_url: str, database_url: str) -> StoreCounters:
    jsz: dict[str, Any] = httpx.get(f"{nats_monitor_url}/jsz", timeout=10).json()
    with psycopg.connect(database_url, autocommit=True) as conn:
        wal = conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
        commits = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert wal is not None and commits is not None
    return StoreCounters(int(jsz["messages"]), int(wal[0]), int(commits[0]))


def load_average() -> float:
    return os.getloadavg()[0]
