"""LocalStack: start what is not configured by URL, wait until healthy, stop without orphans."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

import psutil

from infra.stack import external
from infra.stack.errors import StackError
from infra.stack.ports import wait_until
from infra.stack.process import ManagedProcess, terminate_tree
from infra.stack.servers import NatsServer, PostgresServer, RedisServer, ServerInfo
from infra.stack.settings import StackSettings

STATE_FILE = "stack.json"
_START_ATTEMPTS = 3


class _Server(Protocol):
    name: str
    process: ManagedProcess | None

    @property
    def url(self) -> str: ...
    def start(self) -> None: ...
    def healthy(self) -> bool: ...
    def info(self) -> ServerInfo: ...


@dataclass(frozen=True)
class StackEndpoints:
    """What a running stack offers: the URLs every other part of Cairn is given."""

    nats_url: str
    database_url: str
    redis_url: str
    nats_monitor_url: str | None
    data_dir: Path
    servers: list[ServerInfo] = field(default_factory=list)

    def as_env(self) -> dict[str, str]:
        env = {
            "CAIRN_NATS_URL": self.nats_url,
            "CAIRN_DATABASE_URL": self.database_url,
            "CAIRN_REDIS_URL": self.redis_url,
        }
        if self.nats_monitor_url:
            env["CAIRN_NATS_MONITOR_URL"] = self.nats_monitor_url
        return env


def _ensure_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StackError(f"data folder {path} is not writable: {reason}") from exc


class LocalStack:
    """Use it as a context manager, or call start() and stop()."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.expanduser().resolve()
        self._servers: list[_Server] = []
        self.endpoints: StackEndpoints | None = None
        self._state_written = False

    def __enter__(self) -> StackEndpoints:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, progress: Callable[[str], None] = lambda _msg: None) -> StackEndpoints:
        s = self.settings
        external_checks = [
            (s.nats_url, external.check_nats),
            (s.database_url, external.check_postgres),
            (s.redis_url, external.check_redis),
        ]
        for url, check in external_checks:
            if url:
                progress(f"checking {url.split('@')[-1]}")
                check(url)
        needs_local = not (s.nats_url and s.database_url and s.redis_url)
        if needs_local:
            _ensure_writable(self.data_dir)
            self._refuse_running_stack()
        try:
            self._start_local(progress)
        except BaseException:
            self.stop()
            raise
        servers = [srv.info() for srv in self._servers]
        local = {srv.name: srv for srv in self._servers}
        nats = local.get("nats")
        self.endpoints = StackEndpoints(
            nats_url=s.nats_url or local["nats"].url,
            database_url=s.database_url or local["postgres"].url,
            redis_url=s.redis_url or local["redis"].url,
            nats_monitor_url=s.nats_monitor_url
            or (nats.info().monitor_url if nats and not s.nats_url else None),
            data_dir=self.data_dir,
            servers=servers,
        )
        if needs_local:
            self._write_state(self.endpoints)
        return self.endpoints

    def _start_local(self, progress: Callable[[str], None]) -> None:
        s = self.settings
        wanted: list[Callable[[], _Server]] = []
        if not s.nats_url:
            wanted.append(lambda: NatsServer(self.data_dir / "nats", s.nats_sync_interval))
        if not s.database_url:
            wanted.append(lambda: PostgresServer(self.data_dir / "postgres"))
        if not s.redis_url:
            wanted.append(lambda: RedisServer(self.data_dir / "redis"))
        for make in wanted:
            server = self._start_one(make, progress)
            self._servers.append(server)
            if isinstance(server, PostgresServer):
                server.bootstrap()

    def _start_one(self, make: Callable[[], _Server], progress: Callable[[str], None]) -> _Server:
        last_error = ""
        for _attempt in range(_START_ATTEMPTS):
            server = make()
            progress(f"starting {server.name}")
            server.start()
            process = server.process
            assert process is not None

            def ready(srv: _Server = server, proc: ManagedProcess = process) -> bool:
                return proc.exited() is not None or srv.healthy()

            wait_until(ready, self.settings.startup_timeout)
            if process.exited() is None and server.healthy():
                return server
            last_error = process.log_tail() or "no output"
            process.stop()
            # A free port can be taken between choosing it and binding it: try another.
            if "address already in use" not in last_error.lower():
                break
        raise StackError(f"{server.name} did not become healthy: {last_error}")

    def stop(self) -> None:
        for server in reversed(self._servers):
            if server.process is not None:
                server.process.stop()
        self._servers.clear()
        if self._state_written:
            with contextlib.suppress(OSError):
                (self.data_dir / STATE_FILE).unlink()
            self._state_written = False

    # State file: lets `cairn stack status` find a stack, and a new start find leftovers.

    def _write_state(self, endpoints: StackEndpoints) -> None:
        state = {
            "owner_pid": os.getpid(),
            "servers": [asdict(info) for info in endpoints.servers],
            "endpoints": {**endpoints.as_env(), "CAIRN_DATA_DIR": str(self.data_dir)},
        }
        (self.data_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
        self._state_written = True

    def _refuse_running_stack(self) -> None:
        state = read_state(self.data_dir)
        if state is None:
            return
        owner = state.get("owner_pid")
        if isinstance(owner, int) and owner != os.getpid() and psutil.pid_exists(owner):
            raise StackError(
                f"a Cairn stack is already running from {self.data_dir} (pid {owner}); "
                "stop it first or use another CAIRN_DATA_DIR"
            )
        for info in iter_state_servers(self.data_dir):
            pid = info.get("pid")
            if isinstance(pid, int) and _is_our_leftover(pid, self.data_dir):
                terminate_tree(pid, signal.SIGTERM, timeout=5)


def _is_our_leftover(pid: int, data_dir: Path) -> bool:
    # A pid from an old state file may have been reused: only a server of this folder counts.
    try:
        return str(data_dir) in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def read_state(data_dir: Path) -> dict[str, object] | None:
    path = data_dir / STATE_FILE
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def iter_state_servers(data_dir: Path) -> Iterator[dict[str, object]]:
    state = read_state(data_dir) or {}
    servers: object = state.get("servers", [])
    if isinstance(servers, list):
        yield from (s for s in servers if isinstance(s, dict))
