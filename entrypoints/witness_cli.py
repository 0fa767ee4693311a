"""`cairn witness`: a witness of the audit log, with its own key and its own storage."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Annotated

import typer

from adapters.audit.keys import Ed25519Verifier, load_or_create
from adapters.audit.witness_http import WitnessServer
from adapters.audit.witness_store import WitnessStore
from domain.audit.note import COSIGNATURE_V1, NoteError
from entrypoints.guarded import err
from infra.stack.errors import StackError

logger = logging.getLogger("cairn.witness")


def witness(
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", envvar="CAIRN_WITNESS_DIR", help="The witness's own folder."),
    ],
    log_key: Annotated[
        list[str],
        typer.Option("--log-key", help="A log verifier key it witnesses (or a file holding it)."),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8470,
    name: Annotated[
        str | None, typer.Option(help="The witness key's name (made on first start).")
    ] = None,
) -> None:
    """Cosign the log's checkpoints (C2SP tlog-witness `POST /add-checkpoint`) after checking
    the log's signature and a consistency proof from the last size it cosigned; never cosign a
    fork or a rollback. Its key and state live only in --data-dir."""
    logs: dict[str, list[Ed25519Verifier]] = {}
    for value in log_key:
        text = Path(value).read_text().strip() if Path(value).is_file() else value
        try:
            verifier = Ed25519Verifier.parse(text)
        except NoteError as exc:
            raise StackError(f"log key {value!r}: {exc}") from exc
        logs.setdefault(verifier.name, []).append(verifier)  # a log signs as its origin
    data_dir = data_dir.expanduser()
    key_name = name or f"witness.local/{socket.gethostname()}"
    cosigner = load_or_create(data_dir / "witness.key", key_name, COSIGNATURE_V1)
    server = WitnessServer((host, port), WitnessStore(data_dir / "state", logs, cosigner))
    err.print(
        f"witness {cosigner.name} on http://{host}:{server.server_port}/add-checkpoint\n"
        f"  its verifier key: {cosigner.verifier_key}\n  witnessing: {', '.join(logs)}",
        highlight=False,
        soft_wrap=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
