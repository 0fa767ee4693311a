"""`cairn audit export`: one tenant's events, straight from JetStream, as NDJSON."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from entrypoints.audit_verify import verify
from infra.stack.errors import StackError

if TYPE_CHECKING:
    from adapters.push.export import ExportSummary

# The export's modules (NATS, the store's readers) are imported by the commands that use them:
# every `cairn` command imports this module to list its commands (decision 0077).

audit_app = typer.Typer(
    help="The audit trail: the event store itself, exported.", no_args_is_help=True
)
err = Console(stderr=True, highlight=False)


audit_app.command("verify")(verify)


@audit_app.callback()
def audit() -> None:
    """The audit trail: the event store itself, exported."""
    # A callback keeps `export` a subcommand when this app is used on its own (tests).


def _nats_url(given: str | None, data_dir: Path | None) -> str:
    """CAIRN_NATS_URL (or --nats-url), else the NATS of a stack `cairn up` runs locally."""
    if given:
        return given
    from entrypoints.configure import read_settings
    from infra.stack.launcher import read_state

    folder = read_settings(data_dir).data_dir.expanduser()
    state = read_state(folder) or {}
    endpoints = state.get("endpoints")
    if isinstance(endpoints, dict) and isinstance(endpoints.get("CAIRN_NATS_URL"), str):
        return str(endpoints["CAIRN_NATS_URL"])
    raise StackError(
        f"no NATS to read from: set CAIRN_NATS_URL (or --nats-url), or start `cairn up` "
        f"(looked for a running stack in {folder})"
    )


async def _export(
    nats_url: str,
    stream: str,
    prefix: str,
    tenant: str | None,
    out: Path,
    quiet: bool,
    signed: bool,
) -> ExportSummary:
    import nats
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from adapters.audit.export import export_signed
    from adapters.push.export import ExportSummary, export_tenant
    from adapters.push.store import StoreReader

    try:
        nc = await nats.connect(
            servers=[s.strip() for s in nats_url.split(",") if s.strip()],
            name="cairn-audit-export",
            connect_timeout=5,
            allow_reconnect=False,
        )
    except Exception as exc:
        raise StackError(f"cannot connect to NATS at {nats_url}: {exc!r}") from exc
    reader = StoreReader(nc, stream, prefix, timeout=30)
    partial = out.with_name(out.name + ".partial")
    try:
        await reader.start()
        columns = (
            TextColumn("[bold]exporting[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, disable=quiet) as bar:
            task = bar.add_task(f"tenant {tenant or '(every tenant)'}", total=None)

            def progress(done: int, expected: int) -> None:
                bar.update(task, completed=done, total=max(done, expected))

            # Written beside the target and renamed at the end: a half export never looks whole.
            with partial.open("w", encoding="utf-8", newline="\n") as handle:
                if signed:
                    writer = await export_signed(reader, handle, tenant, progress)
                    summary = ExportSummary(
                        tenant or "*", writer.events, 1, writer.size, writer.size
                    )
                else:
                    assert tenant is not None
                    summary = await export_tenant(reader, tenant, handle, progress)
        partial.replace(out)
        return summary
    finally:
        partial.unlink(missing_ok=True)
        await reader.close()
        await nc.close()


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="NDJSON file to write.")],
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Tenant id (its subject token); --signed: none for all."),
    ] = None,
    signed: Annotated[
        bool,
        typer.Option(
            "--signed",
            help="The verifiable export (cairn.audit.export/2): every leaf up to the last "
            "checkpoint, other tenants' as hashes, with the signed checkpoints.",
        ),
    ] = False,
    nats_url: Annotated[
        str | None, typer.Option("--nats-url", envvar="CAIRN_NATS_URL", help="NATS server(s).")
    ] = None,
    stream: Annotated[
        str, typer.Option(envvar="CAIRN_STREAM", help="The events stream.")
    ] = "cairn_events",
    subject_prefix: Annotated[
        str, typer.Option(envvar="CAIRN_SUBJECT_PREFIX", help="The event subjects' prefix.")
    ] = "cairn",
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="CAIRN_DATA_DIR", help="Local stack folder."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Write every event of a tenant as one JSON line each: sequence, subject, store time and
    the stored header block and payload (base64), exactly as JetStream holds them."""
    from eventsourcing.persistence import DataError

    from adapters.jetstream import headers as h

    if tenant is None and not signed:
        raise StackError("--tenant is required (only a --signed export covers every tenant)")
    try:
        if tenant is not None:
            h.tenant_token(tenant)
    except DataError as exc:
        raise StackError(str(exc)) from exc
    url = _nats_url(nats_url, data_dir)
    summary = asyncio.run(_export(url, stream, subject_prefix, tenant, out, quiet, signed))
    span = f"sequences {summary.first_seq}..{summary.last_seq}" if summary.lines else "no events"
    err.print(
        f"wrote {summary.lines} event(s) of tenant {tenant} to {out} ({span}; the stream "
        f"ended at {summary.up_to} when the export began)",
        soft_wrap=True,
    )
