"""`cairn projector ...`: run, rebuild, inspect and un-stick the projectors of the read side;
and the worker processes `cairn up` runs (`start_projector_workers`)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from commands.settings import CairnSettings
from domain.errors import DomainError
from projections import operations, registry, tuning
from projections.host import ProjectorHost
from projections.settings import ProjectionSettings
from projections.source import EventSource

projector_app = typer.Typer(help="Projectors: the read side's views in PostgreSQL.")
logger = logging.getLogger("cairn.projections")


def _console() -> Console:
    return Console(highlight=False)  # made per command: it reads the terminal width then


Name = Annotated[str, typer.Argument(help="A projector name (see `cairn projector status`).")]


def projection_settings(settings: CairnSettings) -> ProjectionSettings:
    return ProjectionSettings.from_env(
        settings.database_url, settings.event_store_env(), settings.env
    )


def _settings() -> ProjectionSettings:
    return projection_settings(CairnSettings.from_env())


@projector_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="A projector name, or `all` (one thread each).")],
) -> None:
    """Keep the projector's view up to date until stopped (SIGTERM / Ctrl-C finish the batch in
    hand). Builds a new view version beside the old one first when the code's version is newer."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host = ProjectorHost(_settings(), registry.select(name))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        host.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with tuning.projector_process():
        host.start()
        try:
            host.wait()
        finally:
            host.stop()


@projector_app.command("rebuild")
def rebuild(
    name: Name,
    resume: Annotated[
        bool, typer.Option(help="Continue an unfinished rebuild instead of starting anew.")
    ] = False,
) -> None:
    """Replay the store from sequence 0 into a new version of the view beside the active one,
    then switch to it atomically: queries keep answering from the old one meanwhile."""
    out = _console()
    cls = registry.get(name)
    settings = _settings()
    source = EventSource(settings.event_store_env)
    stop = threading.Event()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=out) as bar:
            task = bar.add_task(f"rebuilding {name}", total=source.max_position(), rate="")
            began = time.monotonic()

            def progress(position: int, target: int) -> None:
                rate = position / max(time.monotonic() - began, 1e-6)
                bar.update(task, completed=position, total=target, rate=f"{rate:,.0f} pos/s")

            with tuning.projector_process():
                generation = operations.rebuild(
                    settings, source, cls, stop, progress, resume=resume
                )
    except KeyboardInterrupt:
        stop.set()
        out.print("interrupted: the old view stays active; `--resume` continues this build")
        raise typer.Exit(130) from None
    finally:
        source.close()
    if generation is None:
        raise typer.Exit(1)
    out.print(f"{name}: generation {generation} is now active")


@projector_app.command("status")
def status() -> None:
    """Position, lag (events and seconds), worker and dead letters of every projector."""
    out = _console()
    settings = _settings()
    source = EventSource(settings.event_store_env)
    try:
        found = operations.status(settings, source, list(registry.PROJECTORS.values()))
    finally:
        source.close()
    table = Table(title="Projectors", title_justify="left")
    for column in ("projector", "view", "position", "lag", "worker", "on error", "parked"):
        table.add_column(column)
    problems = 0
    for s in found:
        view = f"v{s.version} g{s.generation}" if s.generation else "[red]not built[/]"
        view += "".join(f" (building g{g}: {p:,})" for g, p in s.building.items())
        lag = f"{s.lag_events:,} events, {s.lag_seconds:.1f}s"
        worker = "[green]running[/]" if s.running else "[yellow]not running[/]"
        parked = str(len(s.parked))
        if s.stopped_at is not None:
            error = next(d.error for d in s.parked if d.position == s.stopped_at)
            parked += f" [red]stopped at {s.stopped_at}: {error}[/]"
        elif s.parked:
            parked += f" (first at {s.parked[0].position}: {s.parked[0].error})"
        problems += bool(s.parked) or not s.running
        position = "-" if s.position is None else f"{s.position:,} / {s.store_position:,}"
        table.add_row(s.name, view, position, lag, worker, s.on_error, parked)
    out.print(table)
    raise typer.Exit(1 if problems else 0)


@projector_app.command("retry")
def retry(name: Name) -> None:
    """Apply the parked (dead-letter) events of the projector again, in order."""
    out = _console()
    settings = _settings()
    source = EventSource(settings.event_store_env)
    try:
        report = operations.retry(settings, source, registry.get(name))
    finally:
        source.close()
    out.print(f"{name}: {len(report.resolved)} resolved, {len(report.failed)} still failing")
    for position, error in report.failed.items():
        out.print(f"  position {position}: {error}")
    raise typer.Exit(1 if report.failed else 0)


class ProjectorWorkers:
    """For `cairn up`: one worker process per projector (`cairn projector run NAME`), each
    restarted if it dies (backoff up to 30 s), all stopped with `stop()` or with the parent."""

    def __init__(self, env: Mapping[str, str], names: list[str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(env)
        self.log_dir = log_dir
        self.names = names
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._stopping = threading.Event()
        self._started = threading.Event()
        # The parent-death signal follows the forking thread: every worker is forked by this
        # thread, which lives until stop().
        self._monitor = threading.Thread(target=self._watch, name="projector-workers", daemon=True)

    def start(self) -> ProjectorWorkers:
        self._monitor.start()
        self._started.wait(30)
        return self

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"projector-{name}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "clients.projector_cli", "run", name],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches `cairn up`, which stops them in order
                preexec_fn=_die_with_parent,
            )

    def _watch(self) -> None:
        for name in self.names:
            self.processes[name] = self._spawn(name)
        self._started.set()
        delay = dict.fromkeys(self.names, 1.0)
        while not self._stopping.wait(1.0):
            for name, process in list(self.processes.items()):
                code = process.poll()
                if code is None:
                    continue
                logger.error(
                    "projector %s exited with %s; restarting in %.0fs", name, code, delay[name]
                )
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


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def start_projector_workers(settings: CairnSettings) -> ProjectorWorkers:
    """Start every projector as its own worker process; call `.stop()` on shutdown."""
    env = {
        **os.environ,
        **settings.env,
        "CAIRN_NATS_URL": settings.nats_url,
        "CAIRN_DATABASE_URL": settings.database_url,
        "CAIRN_REDIS_URL": settings.redis_url,
        "CAIRN_NATS_MONITOR_URL": settings.nats_monitor_url or "",
        "CAIRN_STREAM": settings.stream,
        "CAIRN_SUBJECT_PREFIX": settings.subject_prefix,
        "CAIRN_NATS_REPLICAS": str(settings.nats_replicas),
    }
    log_dir = settings.data_dir / "logs"
    return ProjectorWorkers(env, list(registry.PROJECTORS), log_dir).start()


def main() -> None:
    """`python -m clients.projector_cli ...`: how `start_projector_workers` runs each worker."""
    try:
        projector_app()
    except DomainError as error:
        _console().print(f"[bold red]error:[/] {error}", soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
