"""`cairn audit verify EXPORT --log-key ... --witness-key ...`: check an export offline."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.audit.keys import Ed25519Verifier
from domain.audit.note import NoteError
from domain.audit.scan import Scan, scan_lines
from domain.audit.verify import ExportVerifier, Report
from infra.stack.errors import StackError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
SHOWN_FINDINGS = 200


def _keys(values: Sequence[str], what: str) -> list[Ed25519Verifier]:
    keys = []
    for value in values:
        text = Path(value).read_text().strip() if Path(value).is_file() else value
        try:
            keys.append(Ed25519Verifier.parse(text))
        except NoteError as exc:
            raise StackError(f"{what} {value!r}: {exc}") from exc
    return keys


def _ranges(export: Path, chunk: int) -> list[tuple[int, int]]:
    """Byte ranges of about `chunk` bytes, each ending after a newline (or at the end)."""
    size = export.stat().st_size
    ranges, start = [], 0
    with export.open("rb") as handle:
        while start < size:
            handle.seek(min(start + chunk, size))
            handle.readline()
            end = min(handle.tell(), size) if start + chunk < size else size
            ranges.append((start, end))
            start = end
    return ranges


def _scan_range(job: tuple[Path, int, int]) -> Scan:
    export, start, end = job
    with export.open("rb") as handle:
        handle.seek(start)
        return scan_lines(handle.read(end - start).splitlines(keepends=True))


def verify_file(
    export: Path,
    verifier: ExportVerifier,
    *,
    quiet: bool = False,
    jobs: int = 1,
    chunk: int = 16 << 20,
) -> Report:
    """Scan the export in parts of `chunk` bytes, in `jobs` processes (the hashing is the
    work; a part's result is small), and merge the parts in order."""
    columns = (
        TextColumn("[bold]verifying[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    work = [(export, start, end) for start, end in _ranges(export, chunk)]
    with Progress(*columns, console=err, disable=quiet) as bar, ExitStack() as stack:
        task = bar.add_task(export.name, total=export.stat().st_size)
        scans: Iterable[Scan] = map(_scan_range, work)
        if jobs > 1 and len(work) > 1:
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(jobs))
            scans = pool.imap(_scan_range, work)
        for (_path, _start, end), scan in zip(work, scans, strict=True):
            verifier.feed_scan(scan)
            bar.update(task, completed=end)
    return verifier.finish()


def show(report: Report) -> None:
    scope = f"tenant {report.tenant}" if report.tenant else "every tenant"
    out.print(
        f"log {report.origin} ({scope}): {report.leaves} leaves, {report.events} events in "
        f"full, {len(report.sealed)} sealed, {report.checkpoints} signed checkpoints "
        f"({report.cosigned} with a witness quorum), {report.decisions} policy decisions "
        "re-evaluated",
        soft_wrap=True,
    )
    if report.sealed:
        shown = ", ".join(str(s) for s in report.sealed[:20])
        more = " …" if len(report.sealed) > 20 else ""
        out.print(f"sealed (personal fields not readable, shown as sealed): seq {shown}{more}")
    if report.clean:
        out.print("[bold green]verified: 0 findings[/]")
        return
    # One plain line per finding (never wrapped): `<class> at seq <n>: <detail>`, greppable.
    out.print(f"[bold red]{len(report.findings)} finding(s)[/]")
    for finding in report.findings[:SHOWN_FINDINGS]:
        out.print(str(finding), soft_wrap=True, markup=False)
    if len(report.findings) > SHOWN_FINDINGS:
        out.print(f"… and {len(report.findings) - SHOWN_FINDINGS} more")


def verify(
    export: Annotated[Path, typer.Argument(help="An export of `cairn audit export --signed`.")],
    log_key: Annotated[
        list[str], typer.Option("--log-key", help="The log's verifier key (or a file holding it).")
    ],
    witness_key: Annotated[
        list[str] | None,
        typer.Option("--witness-key", help="A trusted witness's verifier key (or its file)."),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(help="Witness cosignatures each checkpoint needs (default: 1 if any key)."),
    ] = None,
    policy: Annotated[
        bool, typer.Option(help="Re-evaluate every recorded policy decision.")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    jobs: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Processes hashing parts of the export (default: every core)."
        ),
    ] = min(os.cpu_count() or 1, 64),
) -> None:
    """Check an export without any server: the log's signatures and the witness quorum, the
    chain of consistency proofs, every leaf against the signed roots, and every recorded policy
    decision. Exit 1 naming each finding's sequence and class; 0 when there is none."""
    if not export.is_file():
        raise StackError(f"no export at {export}")
    witnesses = _keys(witness_key or [], "witness key")
    needed = (1 if witnesses else 0) if quorum is None else quorum
    if needed > len(witnesses):
        raise StackError(f"a quorum of {needed} needs at least {needed} --witness-key")
    replayer = None
    if policy:
        from adapters.audit.replay import CedarReplayer  # cedarpy: only when it is needed

        replayer = CedarReplayer()
    verifier = ExportVerifier(
        _keys(log_key, "log key"), witnesses, quorum=needed, replayer=replayer
    )
    report = verify_file(export, verifier, quiet=quiet, jobs=jobs)
    show(report)
    if not report.clean:
        raise typer.Exit(1)
