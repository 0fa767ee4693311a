"""The `cairn` command line: run the local stack and the API, inspect the stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clients.people.commands import register as register_people_commands
from entrypoints.audit_cli import audit_app
from entrypoints.guarded import err, run_guarded
from entrypoints.projector_cli import projector_app
from entrypoints.witness_cli import witness
from infra.stack.errors import StackError

app = typer.Typer(
    help="Cairn: a personal AI operating system backend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stack_app = typer.Typer(help="The local servers: NATS JetStream, PostgreSQL, Redis.")
app.add_typer(stack_app, name="stack")
vault_app = typer.Typer(help="The vault of secrets and personal-data keys.")
app.add_typer(vault_app, name="vault")
app.add_typer(audit_app, name="audit")
app.add_typer(projector_app, name="projector")
app.command("witness")(witness)
# The people's commands (login, intent, runs, approvals...), built on the SDK.
register_people_commands(app, audit_app)


DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="CAIRN_DATA_DIR", help="Folder for the local servers' data."),
]


@app.command()
def up(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(envvar="CAIRN_API_HOST", help="API address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CAIRN_API_PORT", help="API port.")] = 8000,
) -> None:
    """Start the stack (or use the servers given by CAIRN_*_URL) and the API; Ctrl-C stops all."""
    # Imported by the commands that need it, as the others here: the API and its composition
    # take seconds of CPU to import, which `cairn worker` or `cairn login` would pay each start
    # (the operator commands' modules do the same inside their commands: decision 0077).
    from entrypoints import stack_commands

    stack_commands.run_up(data_dir, host, port)


@app.command("worker")
def worker() -> None:
    """Advance runs: plan, decide, expire and execute, one step per run event, acknowledged
    only once the step is stored. Start as many as you like, on any host; SIGTERM or Ctrl-C
    finish the steps in hand. Needs CAIRN_NATS_URL, CAIRN_DATABASE_URL, CAIRN_REDIS_URL."""
    from entrypoints.worker_cli import run_worker

    run_worker()


@app.command("checkpointer")
def checkpointer() -> None:
    """Sign the audit log's checkpoints (C2SP tlog-checkpoint, Ed25519) at most
    CAIRN_AUDIT_CHECKPOINT_EVERY_S seconds or CAIRN_AUDIT_CHECKPOINT_EVERY_EVENTS messages
    apart, cosigned by CAIRN_AUDIT_WITNESS_URLS, stored in the stream. One per stream."""
    from entrypoints.checkpointer_cli import run_checkpointer

    run_checkpointer()


@stack_app.command("status")
def stack_status(data_dir: DataDir = None) -> None:
    """Show the local stack's servers: pid, address, health. Exit 1 if any is down."""
    from entrypoints import stack_commands

    raise typer.Exit(stack_commands.show_status(data_dir))


@app.command("migrate")
def migrate_command(
    database_url: Annotated[
        str, typer.Option(envvar="CAIRN_DATABASE_URL", help="PostgreSQL to migrate.")
    ],
) -> None:
    """Apply the SQL migrations of infra/migrations/ that the database does not have yet."""
    from adapters.postgres.migrations import MigrationError, migrate

    try:
        applied = migrate(database_url)
    except MigrationError as exc:
        raise StackError(str(exc)) from exc
    err.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")


@vault_app.command("rotate")
def vault_rotate(
    database_url: Annotated[
        str, typer.Option(envvar="CAIRN_DATABASE_URL", help="PostgreSQL holding the vault.")
    ],
    data_dir: DataDir = None,
    new_data_keys: Annotated[
        bool, typer.Option(help="Also give every tenant a new data key for future writes.")
    ] = False,
) -> None:
    """Re-wrap every data key under the newest key-encryption key (CAIRN_VAULT_KEKS, last
    entry). Old ciphertexts stay readable; run it after adding a new KEK, then remove the
    old KEK from the configuration."""
    from adapters.vault import KeyRing, VaultConfigurationError, rotate
    from entrypoints.configure import read_settings

    settings = read_settings(data_dir)
    folder = settings.data_dir.expanduser()
    try:
        keyring = KeyRing.from_env(settings.env, folder / "keys" / "vault-keks")
        report = rotate(database_url, keyring, new_data_keys=new_data_keys)
    except VaultConfigurationError as exc:
        raise StackError(str(exc)) from exc
    err.print(report.summary(), highlight=False)


def main() -> None:
    run_guarded(app)


if __name__ == "__main__":
    main()
