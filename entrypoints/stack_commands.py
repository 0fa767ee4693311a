"""What `cairn up` and `cairn stack status` do, kept apart from argument parsing."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from pathlib import Path

import psutil
import uvicorn
from rich.console import Console
from rich.table import Table

from adapters.lifetime import freeze_start_up
from adapters.postgres.migrations import migrate
from adapters.telemetry.setup import start_process
from api.app import create_app
from api.middleware import correlation_id_var, request_id_var
from api.settings import ServiceUrls
from entrypoints.checkpointer_cli import start_checkpointer
from entrypoints.children import ChildProcesses
from entrypoints.configure import read_settings, stack_settings
from entrypoints.projector_cli import start_projector_workers
from entrypoints.worker_cli import start_run_workers
from infra.stack import external
from infra.stack.errors import StackError
from infra.stack.launcher import LocalStack, StackEndpoints, iter_state_servers, read_state
from infra.stack.ports import ensure_port_free

out = Console(highlight=False)


def console_url(host: str, port: int) -> str:
    """Where a person opens the console. Passkeys are bound to the relying party's host name
    (CAIRN_RP_ID, `localhost` by default), not to an address: on this machine the console
    must be opened as localhost, or the browser refuses the sign-up."""
    loopback = host in ("127.0.0.1", "::1", "localhost")
    return f"http://{'localhost' if loopback else host}:{port}/"


def banner(endpoints: StackEndpoints, api_url: str, console: str | None = None) -> str:
    """What runs where and where data lives; plain lines, so nothing is cut in a narrow log."""
    started = {s.name: s for s in endpoints.servers}
    lines = ["[bold green]Cairn is up[/]"]
    if console is not None:
        lines.append(f"  {'web console':<22} {console}  [dim]open this address[/]")
    rows = [
        ("API", api_url, f"pid {os.getpid()}, OpenAPI docs at {api_url}/docs"),
        ("NATS JetStream", endpoints.nats_url, "nats"),
        ("PostgreSQL + pgvector", endpoints.database_url, "postgres"),
        ("Redis", endpoints.redis_url, "redis"),
    ]
    for what, where, key in rows:
        server = started.get(key)
        if what == "API":
            detail = key
        elif server is None:
            detail = "external (from CAIRN_*_URL)"
        else:
            detail = f"pid {server.pid}, data in {server.data_dir}"
        lines.append(f"  {what:<22} {where}  [dim]{detail}[/]")
    if endpoints.nats_monitor_url:
        lines.append(f"  {'NATS monitoring':<22} {endpoints.nats_monitor_url}")
    lines.append(f"  {'data folder':<22} {endpoints.data_dir}")
    lines.append(f"  {'logs of the workers':<22} {endpoints.data_dir / 'logs'}")
    lines.append("  Ctrl-C stops the API and every server above.")
    return "\n".join(lines)


def request_ids() -> dict[str, str | None]:
    """The ids of the request a log record was written for (JSON logs)."""
    return {"request_id": request_id_var.get(), "correlation_id": correlation_id_var.get()}


def run_up(data_dir: Path | None, host: str, port: int) -> None:
    settings = read_settings(data_dir)
    ensure_port_free(port, host, hint="choose another with --port or CAIRN_API_PORT")
    stack = LocalStack(stack_settings(settings))
    workers: list[ChildProcesses] = []
    try:
        with out.status("starting the stack…") as status:
            endpoints = stack.start(progress=lambda msg: status.update(f"{msg}…"))
            status.update("applying database migrations…")
            migrate(endpoints.database_url)
        api_url = f"http://{host}:{port}"
        out.print(banner(endpoints, api_url, console_url(host, port)), soft_wrap=True)
        cairn_settings = dataclasses.replace(  # pointed at the servers the stack gave
            settings,
            nats_url=endpoints.nats_url,
            database_url=endpoints.database_url,
            redis_url=endpoints.redis_url,
            nats_monitor_url=endpoints.nats_monitor_url,
            data_dir=endpoints.data_dir,
        )
        workers.append(start_projector_workers(cairn_settings))
        workers.append(start_run_workers(cairn_settings))
        workers.append(start_checkpointer(cairn_settings))
        json_logs = settings.log_format == "json"
        telemetry = start_process("cairn-api", settings.log_format, request_ids)
        config = uvicorn.Config(
            create_app(ServiceUrls.of(cairn_settings), settings=cairn_settings),
            host=host,
            port=port,
            log_level="info",
            access_log=False,
            # JSON logs: uvicorn's records go to the root logger's JSON handler.
            log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
            # Open SSE streams must not hold Ctrl-C hostage.
            timeout_graceful_shutdown=5,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        freeze_start_up()  # the app is made: never walk its objects again (decision 0070)
        # uvicorn re-raises the Ctrl-C it handled once it has shut down; here that is the
        # requested stop, not an error.
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        telemetry.shutdown()
        if not server.started:
            raise StackError(f"the API could not start on {api_url} (see the log above)")
    finally:
        with out.status("stopping the stack…"):
            for children in workers:
                children.stop()
            stack.stop()
        out.print("stopped: no server of the stack is left running")
        logging.shutdown()


def show_status(data_dir: Path | None) -> int:
    folder = read_settings(data_dir).data_dir.expanduser().resolve()
    state = read_state(folder)
    if state is None:
        out.print(f"no local stack is running from {folder}")
        return 1
    table = Table(title=f"Cairn stack in {folder}", title_justify="left")
    for column in ("server", "pid", "process", "health", "url"):
        table.add_column(column)
    all_ok = True
    checks = {
        "nats": external.check_nats,
        "postgres": external.check_postgres,
        "redis": external.check_redis,
    }
    for server in iter_state_servers(folder):
        name, pid, url = str(server.get("name")), server.get("pid"), str(server.get("url"))
        alive = isinstance(pid, int) and psutil.pid_exists(pid)
        try:
            checks[name](url)
            health = "[green]healthy[/]"
        except (StackError, KeyError) as exc:
            health = f"[red]down[/] ({exc})"
            all_ok = False
        table.add_row(name, str(pid), "running" if alive else "[red]gone[/]", health, url)
        all_ok = all_ok and alive
    out.print(table)
    return 0 if all_ok else 1
