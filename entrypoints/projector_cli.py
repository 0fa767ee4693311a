"""`cairn projector ...`: run, rebuild, inspect and un-stick the projectors of the read side;
and the worker processes `cairn up` runs (`start_projector_workers`)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.errors import DomainError
from projections.settings import ProjectionSettings, default_processes

if TYPE_CHECKING:
    from commands.settings import CairnSettings
    from entrypoints.children import ChildProcesses

# The projectors, their engine and the settings (~0.5 s of imports) are imported by the commands
# that run them: every `cairn` command imports this module to list its commands (decision 0077).

projector_app = typer.Typer(help="Projectors: the read side's views in PostgreSQL.")
logger = logging.getLogger("cairn.projections")


def _console() -> Console:
    return Console(highlight=False)  # made per command: it reads the terminal width then


Name = Annotated[str, typer.Argument(help="A projector name (see `cairn projector status`).")]


def projection_settings(settings: CairnSettings) -> ProjectionSettings:
    """What the projectors take from the one settings object."""
    processes = settings.projector_processes
    return ProjectionSettings(
        database_url=settings.database_url,
        event_store_env=settings.event_store_env(),
        batch_size=settings.projector_batch,
        on_error=dict(settings.projector_on_error),
        catch_up_processes=default_processes() if processes is None else processes,
        catch_up_after=settings.projector_catch_up_after,
    )


def _settings() -> ProjectionSettings:
    from commands.settings import CairnSettings

    return projection_settings(CairnSettings.from_env())


@projector_app.command("run")
def run(
    names: Annotated[
        list[str],
        typer.Argument(
            metavar="NAME",
            help="Projector names, or `all` (one thread each, one reading of the stream).",
        ),
    ],
) -> None:
    """Keep the projectors' views up to date until stopped (SIGTERM / Ctrl-C finish the batch in
    hand). Builds a new view version beside the old one first when the code's version is newer."""
    from adapters.context.indexes import IndexPolicy, keep_in_background
    from adapters.telemetry.setup import start_process
    from commands.settings import CairnSettings
    from projections.engine import projector_registry, tuning
    from projections.engine.projector_host import ProjectorHost

    settings = CairnSettings.from_env()
    telemetry = start_process("cairn-projector", settings.log_format)
    selected = projector_registry.select(*names)
    host = ProjectorHost(projection_settings(settings), selected)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        host.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with tuning.projector_process():
        host.start()
        if any(cls.name == "context" for cls in selected):
            # The context view's per-person vector indexes (decision 0036), kept beside it.
            policy = IndexPolicy(threshold=settings.context_index_threshold)
            keep_in_background(settings.database_url, policy, host.stopping)
        try:
            host.wait()
        finally:
            host.stop()
            telemetry.shutdown()  # exports what is buffered


@projector_app.command("rebuild")
def rebuild(
    name: Name,
    resume: Annotated[
        bool, typer.Option(help="Continue an unfinished rebuild instead of starting anew.")
    ] = False,
) -> None:
    """Replay the store from sequence 0 into a new version of the view beside the active one,
    then switch to it atomically: queries keep answering from the old one meanwhile."""
    from adapters.telemetry.setup import configure
    from projections.engine import operations, projector_registry, tuning
    from projections.engine.event_source import EventSource

    out = _console()
    cls = projector_registry.get(name)
    settings = _settings()
    configure("cairn-projector")  # a rebuild's spans link to the events' traces, as OTEL_* ask
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
    from projections.engine import operations, projector_registry
    from projections.engine.event_source import EventSource

    out = _console()
    settings = _settings()
    source = EventSource(settings.event_store_env)
    try:
        found = operations.status(settings, source, list(projector_registry.PROJECTORS.values()))
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
        if s.parked:
            parked += f" (first at {s.parked[0].position}: {s.parked[0].error})"
        if s.holds:
            held = sum(h.held for h in s.holds)
            parked += (
                f" [red]{len(s.holds)} aggregate(s) stopped, {held} event(s) held back"
                f" (first: {s.holds[0].originator_id} at {s.holds[0].position})[/]"
            )
        problems += bool(s.parked) or not s.running
        position = "-" if s.position is None else f"{s.position:,} / {s.store_position:,}"
        table.add_row(s.name, view, position, lag, worker, s.on_error, parked)
    out.print(table)
    raise typer.Exit(1 if problems else 0)


@projector_app.command("retry")
def retry(
    name: Name,
    skip: Annotated[
        list[int] | None,
        typer.Option(
            help="Give up on the parked event at this position (it is never applied, and"
            " the events held behind it follow); repeatable."
        ),
    ] = None,
) -> None:
    """Apply the parked (dead-letter) events of the projector again, each aggregate's in
    order, then the events held behind them."""
    from projections.engine import operations, projector_registry
    from projections.engine.event_source import EventSource

    out = _console()
    settings = _settings()
    source = EventSource(settings.event_store_env)
    try:
        report = operations.retry(settings, source, projector_registry.get(name), skip=skip or ())
    finally:
        source.close()
    if report.skipped:
        out.print(f"{name}: skipped {', '.join(map(str, report.skipped))}")
    out.print(f"{name}: {len(report.resolved)} resolved, {len(report.failed)} still failing")
    for position, error in report.failed.items():
        out.print(f"  position {position}: {error}")
    raise typer.Exit(1 if report.failed else 0)


def projector_groups(groups: int) -> list[list[str]]:
    """The projectors' names dealt over at most `groups` processes, in registry order."""
    from projections.engine import projector_registry

    names = list(projector_registry.PROJECTORS)
    count = max(1, min(groups, len(names)))
    return [names[index::count] for index in range(count)]


def start_projector_workers(settings: CairnSettings) -> ChildProcesses:
    """Start the projectors in `settings.projector_groups` worker processes (default one, which
    reads the stream once for all of them); call `.stop()` on shutdown."""
    from entrypoints.children import ChildProcesses, child_env

    env = child_env(settings)
    groups = projector_groups(settings.projector_groups)
    commands = {
        "projectors" if len(groups) == 1 else f"projector-{'+'.join(group)}": [
            sys.executable,
            "-m",
            "entrypoints.projector_cli",
            "run",
            *group,
        ]
        for group in groups
    }
    return ChildProcesses(env, commands, settings.data_dir / "logs").start()


def main() -> None:
    """`python -m entrypoints.projector_cli ...`: how `start_projector_workers` runs each worker."""
    try:
        projector_app()
    except DomainError as error:
        _console().print(f"[bold red]error:[/] {error}", soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
