"""The launcher starts real servers, refuses bad configuration clearly, and leaves no orphans."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
import redis

from infra.stack.errors import StackError
from infra.stack.launcher import LocalStack, StackEndpoints
from infra.stack.ports import free_port
from infra.stack.settings import StackSettings

pytestmark = pytest.mark.integration


def _all_pids(endpoints: StackEndpoints) -> list[int]:
    pids: list[int] = []
    for server in endpoints.servers:
        assert server.pid is not None
        pids.append(server.pid)
        pids.extend(child.pid for child in psutil.Process(server.pid).children(recursive=True))
    return pids


def _wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _running(pid)]
        time.sleep(0.1)
    return alive


def _running(pid: int) -> bool:
    try:  # it may end between any two looks at it
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_nats_runs_jetstream_with_fsync_on_every_write(stack: StackEndpoints) -> None:
    assert stack.nats_monitor_url
    with urllib.request.urlopen(f"{stack.nats_monitor_url}/varz", timeout=2) as response:
        varz = json.load(response)
    assert varz["jetstream"]["config"]["sync_always"] is True
    assert varz["jetstream"]["config"]["store_dir"]
    major, minor = (int(x) for x in varz["version"].split(".")[:2])
    assert (major, minor) >= (2, 12)


def test_postgres_has_pgvector(stack: StackEndpoints) -> None:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector").fetchone()
    assert row is not None and row[0] == pytest.approx(1.0)


def test_redis_answers_with_append_only_file(stack: StackEndpoints) -> None:
    client = redis.Redis.from_url(stack.redis_url)
    assert client.ping()
    assert client.config_get("appendonly")["appendonly"] == "yes"
    client.close()


def test_stop_leaves_no_server_process(scratch_dir: Path) -> None:
    launcher = LocalStack(StackSettings(data_dir=scratch_dir / "data"))
    endpoints = launcher.start()
    pids = _all_pids(endpoints)
    assert len(pids) >= 3
    assert (scratch_dir / "data" / "stack.json").exists()
    launcher.stop()
    assert _wait_gone(pids, timeout=5) == []
    assert not (scratch_dir / "data" / "stack.json").exists()


def test_restart_on_the_same_folder_keeps_data(scratch_dir: Path) -> None:
    settings = StackSettings(data_dir=scratch_dir / "data")
    with LocalStack(settings) as first, psycopg.connect(first.database_url) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
        conn.commit()
    with LocalStack(settings) as second, psycopg.connect(second.database_url) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)


def test_servers_die_with_a_killed_parent(scratch_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys, time
        from pathlib import Path
        from infra.stack.launcher import LocalStack
        from infra.stack.settings import StackSettings
        endpoints = LocalStack(StackSettings(data_dir=Path({str(scratch_dir / "d")!r}))).start()
        print(json.dumps([s.pid for s in endpoints.servers]), flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = json.loads(parent.stdout.readline())
    children = [c.pid for pid in pids for c in psutil.Process(pid).children(recursive=True)]
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert _wait_gone(pids + children) == []
    # A new start on the same folder works: the stale state file is not in the way.
    with LocalStack(StackSettings(data_dir=scratch_dir / "d")) as endpoints:
        assert len(endpoints.servers) == 3


def test_second_stack_on_a_running_folder_is_refused(scratch_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from infra.stack.launcher import LocalStack
        from infra.stack.settings import StackSettings
        LocalStack(StackSettings(data_dir=Path({str(scratch_dir / "d")!r}))).start()
        print("up", flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "up"
        with pytest.raises(StackError, match="already running"):
            LocalStack(StackSettings(data_dir=scratch_dir / "d")).start()
    finally:
        owner.terminate()
        owner.wait()


def test_external_urls_start_nothing(stack: StackEndpoints, scratch_dir: Path) -> None:
    settings = StackSettings(
        data_dir=scratch_dir / "unused",
        nats_url=stack.nats_url,
        database_url=stack.database_url,
        redis_url=stack.redis_url,
        nats_monitor_url=stack.nats_monitor_url,
    )
    with LocalStack(settings) as endpoints:
        assert endpoints.servers == []
        assert endpoints.nats_url == stack.nats_url
    assert not (scratch_dir / "unused").exists()


@pytest.mark.parametrize(
    ("field", "url", "message"),
    [
        ("nats_url", "nats://127.0.0.1:{port}", "cannot reach NATS"),
        ("database_url", "postgresql://postgres@127.0.0.1:{port}/x", "cannot reach PostgreSQL"),
        ("redis_url", "redis://127.0.0.1:{port}/0", "cannot reach Redis"),
    ],
)
def test_unreachable_url_is_a_clear_error(
    scratch_dir: Path, field: str, url: str, message: str
) -> None:
    overrides: dict[str, Any] = {field: url.format(port=free_port())}
    settings = dataclasses.replace(StackSettings(data_dir=scratch_dir), **overrides)
    with pytest.raises(StackError, match=message):
        LocalStack(settings).start()


def test_unwritable_data_folder_is_a_clear_error(scratch_dir: Path) -> None:
    blocker = scratch_dir / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StackError, match="is not writable"):
        LocalStack(StackSettings(data_dir=blocker / "data")).start()


def test_a_server_started_from_a_short_lived_thread_outlives_the_thread(scratch_dir: Path) -> None:
    import threading

    from infra.stack.ports import wait_until
    from infra.stack.servers import NatsServer

    server = NatsServer(scratch_dir / "nats", "always")
    starter = threading.Thread(target=server.start)
    starter.start()
    starter.join()
    try:
        assert wait_until(server.healthy, 20)
        time.sleep(0.5)
        assert server.process is not None and server.process.exited() is None
        assert server.healthy()
    finally:
        assert server.process is not None
        server.process.stop()
