"""The floor under every authenticated request: a bare authenticated GET, with the per-process
cache of authenticated sessions off (every request reads the session row in PostgreSQL and
replays the user from the event store, as before decision 0010) and on, in one run, beside an
unauthenticated `GET /healthz`. Writes docs/benchmarks/auth.md.

The API runs in its own process (uvicorn, tests/benchmarks/auth_server.py); this process is
the client: one connection, requests one after another (latency), then a few connections at
once (throughput). Server CPU per request is the API process's CPU time over the requests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from adapters.postgres.migrations import migrate
from infra.stack.launcher import StackEndpoints
from infra.stack.ports import free_port
from tests.benchmarks.report import table, write
from tests.benchmarks.workloads import Measurement
from tests.e2e.push.harness import HttpCairn, Member
from tests.support.authenticator import EXAMPLE_ORIGIN, EXAMPLE_RP_ID

pytestmark = pytest.mark.benchmark

REQUESTS = int(os.environ.get("CAIRN_BENCH_AUTH_REQUESTS", "2000"))
CLIENTS = int(os.environ.get("CAIRN_BENCH_AUTH_CLIENTS", "4"))
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Served:
    measurement: Measurement
    cpu_ms_per_request: float


def _start_api(
    stack: StackEndpoints, database_url: str, name: str, data_dir: Path, cache_s: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        **stack.as_env(),
        "CAIRN_DATABASE_URL": database_url,
        "CAIRN_DATA_DIR": str(data_dir),
        "CAIRN_STREAM": name,
        "CAIRN_SUBJECT_PREFIX": name,
        "CAIRN_REDIS_PREFIX": name,
        "CAIRN_RP_ID": EXAMPLE_RP_ID,
        "CAIRN_ORIGINS": EXAMPLE_ORIGIN,
        "CAIRN_API_PORT": str(port),
        "CAIRN_AUTH_CACHE_S": cache_s,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.auth_server"], env=env, cwd=ROOT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("the API did not start")


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _sequential(http: httpx.Client, path: str, headers: dict[str, str], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        response = http.get(path, headers=headers)
        latencies.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text
    return latencies


def _measure(
    name: str, server: psutil.Process, base_url: str, path: str, member: Member
) -> tuple[Served, Served]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        _sequential(http, path, member.headers, 200)  # warm up
        cpu, began = _cpu_s(server), time.perf_counter()
        latencies = _sequential(http, path, member.headers, REQUESTS)
        seconds, cpu = time.perf_counter() - began, _cpu_s(server) - cpu
    one = Served(
        Measurement(f"{name}, 1 connection", REQUESTS, seconds, latencies),
        cpu * 1000 / REQUESTS,
    )
    each = REQUESTS // CLIENTS
    collected: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            found = _sequential(http, path, member.headers, each)
        with lock:
            collected.extend(found)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    cpu, began = _cpu_s(server), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - began, _cpu_s(server) - cpu
    many = Served(
        Measurement(f"{name}, {CLIENTS} connections", len(collected), seconds, collected),
        cpu * 1000 / len(collected),
    )
    return one, many


def test_bare_authenticated_get_with_and_without_the_session_cache(
    stack: StackEndpoints, fresh_database_url: str, unique_name: str, tmp_path: Path
) -> None:
    migrate(fresh_database_url)
    rows: list[Served] = []
    for label, cache_s in (("cache off", "0"), ("cache on (5 s)", "5")):
        process, port = _start_api(
            stack, fresh_database_url, unique_name, tmp_path, cache_s=cache_s
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base_url, timeout=30) as http:
                member = HttpCairn(http).sign_up(f"{unique_name[:20]}{cache_s}")
            server = psutil.Process(process.pid)
            if cache_s == "0":
                rows += _measure("GET /healthz (no auth)", server, base_url, "/healthz", member)
            rows += _measure(
                f"authenticated GET, {label}", server, base_url, "/bench/whoami", member
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
    lines = [*table([r.measurement for r in rows]), ""]
    lines += ["| workload | API CPU ms per request |", "|---|---:|"]
    lines += [f"| {r.measurement.name} | {r.cpu_ms_per_request:.2f} |" for r in rows]
    body = [
        f"{REQUESTS:,} requests per workload against the API in its own process (uvicorn, "
        "one worker) on the local stack; the client is this process: one connection with "
        f"requests one after another, then {CLIENTS} connections at once. `authenticated "
        "GET` is a route that only authenticates (`tests/benchmarks/auth_server.py`): JWT "
        "check, live session, user and device, rate limit (one Redis call, limits lifted). "
        "`cache off` (`CAIRN_AUTH_CACHE_S=0`) reads the session row in PostgreSQL and "
        "replays the user from the event store on every request, as every request did "
        "before decision 0010; `cache on` does so once per session and 5 s (or after an "
        "invalidation).",
        "",
        *lines,
        "",
        f"Load average at the end: {os.getloadavg()[0]:.2f} (2 cores shared with other work).",
    ]
    path = write("auth.md", "Authentication benchmark", body)
    print(path.read_text())
    assert all(r.measurement.events > 0 for r in rows)
