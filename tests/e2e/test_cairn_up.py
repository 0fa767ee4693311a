"""`cairn up` from the outside: ready within 30 s, Ctrl-C leaves nothing, bad config is one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from infra.stack.ports import free_port

pytestmark = pytest.mark.e2e

CAIRN = [sys.executable, "-m", "entrypoints.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env.update(extra)
    return env


def _wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 90.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"cairn up exited early with {proc.returncode}"
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/readyz not 200 within {timeout} s")


@pytest.fixture
def running(scratch_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    port = free_port()
    data = scratch_dir / "data"
    proc = subprocess.Popen(
        [*CAIRN, "up", "--data-dir", str(data), "--port", str(port)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}", data
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.long(25)
def test_up_is_ready_then_ctrl_c_stops_every_server(
    running: tuple[subprocess.Popen[str], str, Path],
) -> None:
    proc, url, data = running
    # Ready at all (within _wait_ready's liveness bound), not within a time: how fast it
    # starts is this machine's load, measured by benchmarks, not asserted here.
    response = _wait_ready(url, proc)
    assert response.headers["x-request-id"]
    assert httpx.get(f"{url}/docs", timeout=5).status_code == 200

    state = json.loads((data / "stack.json").read_text())
    pids = [server["pid"] for server in state["servers"]]
    pids += [c.pid for pid in pids for c in psutil.Process(pid).children(recursive=True)]
    assert len(state["servers"]) == 3
    # Projector workers run as children of `cairn up` too.
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("projector_cli" in " ".join(c.cmdline()) for c in children)
    # And the run workers (CAIRN_WORKERS, default 2): runs advance there, not in the API.
    assert sum("entrypoints.worker_cli" in " ".join(c.cmdline()) for c in children) == 2
    pids += [c.pid for c in children]

    status = subprocess.run(
        [*CAIRN, "stack", "status", "--data-dir", str(data)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("healthy") == 3

    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert "Cairn is up" in output and str(data) in output
    alive = [
        p
        for p in pids
        if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == []

    after = subprocess.run(
        [*CAIRN, "stack", "status", "--data-dir", str(data)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert after.returncode == 1
    assert "no local stack" in after.stdout


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    return lines[0]


def test_port_in_use_is_one_clear_line(scratch_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*CAIRN, "up", "--data-dir", str(scratch_dir), "--port", str(port)],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    line = _one_error_line(result)
    assert f"port {port}" in line and "already in use" in line


def test_unreachable_url_is_one_clear_line(scratch_dir: Path) -> None:
    result = subprocess.run(
        [*CAIRN, "up", "--data-dir", str(scratch_dir), "--port", str(free_port())],
        env=_env(CAIRN_NATS_URL=f"nats://127.0.0.1:{free_port()}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = _one_error_line(result)
    assert "cannot reach NATS" in line and "CAIRN_NATS_URL" in line


def test_unwritable_data_folder_is_one_clear_line(scratch_dir: Path) -> None:
    blocker = scratch_dir / "file"
    blocker.write_text("x")
    result = subprocess.run(
        [*CAIRN, "up", "--data-dir", str(blocker / "data"), "--port", str(free_port())],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "not writable" in _one_error_line(result)
