"""`cairn audit verify EXPORT --log-key ... --witness-key ...`: check an export offline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.audit.keys import Ed25519Verifier
from domain.audit.note import NoteError
from domain.audit.verify import ExportVerifier, Report
from infra.stack import StackError

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


def verify_file(
    export: Path, verifier: ExportVerifier, *, quiet: bool = False, chunk: int = 1 << 20
) -> Report:
    total = export.stat().st_size
    columns = (
        TextColumn("[bold]verifying[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    feed = verifier.feed
    with Progress(*columns, console=err, disable=quiet) as bar, export.open("rb") as handle:
        task = bar.add_task(export.name, total=total)
        while lines := handle.readlines(chunk):
            for line in lines:
                feed(line.decode("utf-8", "replace"))
            bar.update(task, completed=handle.tell())
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
    report = verify_file(export, verifier, quiet=quiet)
    show(report)
    if not report.clean:
        raise typer.Exit(1)
