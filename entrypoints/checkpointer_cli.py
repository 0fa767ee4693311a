"""`cairn checkpointer`: sign the audit log's checkpoints (one such process per stream); and
the one `cairn up` starts beside the projectors (`start_checkpointer`)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import nats

from adapters.audit.checkpointer import Checkpointer, Schedule
from adapters.audit.keys import load_or_create
from adapters.audit.witness_client import WitnessClient
from adapters.jetstream import loops
from adapters.push.store import StoreReader
from adapters.telemetry import metrics as gauges
from adapters.telemetry.setup import start_process
from commands.settings import CairnSettings
from domain.audit.note import ED25519
from entrypoints.children import ChildProcesses, child_env
from entrypoints.guarded import run_guarded

logger = logging.getLogger("cairn.checkpointer")


async def _run(settings: CairnSettings) -> None:
    audit = settings.audit
    signer = load_or_create(audit.key_path(settings.data_dir), audit.origin, ED25519)
    logger.info("log %s, verifier key %s", audit.origin, signer.verifier_key)
    nc = await nats.connect(
        servers=[s.strip() for s in settings.nats_url.split(",") if s.strip()],
        name="cairn-checkpointer",
        max_reconnect_attempts=-1,
    )
    reader = StoreReader(nc, settings.stream, settings.subject_prefix, timeout=30)
    witnesses = [WitnessClient(url) for url in audit.witness_urls]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await reader.start()
        schedule = Schedule(audit.checkpoint_every_s, audit.checkpoint_every_events)
        pointer = Checkpointer(nc, reader, audit.origin, signer, witnesses, schedule)
        unwitnessed = gauges.watch(gauges.UNWITNESSED_EVENTS, lambda: pointer.unwitnessed)
        try:
            await pointer.run(stop)
        finally:
            unwitnessed.close()
    finally:
        for witness in witnesses:
            await witness.close()
        await reader.close()
        await nc.close()


def run_checkpointer() -> None:
    """Follow the stream and sign checkpoints until SIGTERM / Ctrl-C."""
    settings = CairnSettings.from_env()
    # Its logs as every process's; its metric (unwitnessed events) when OTEL_* asks for it.
    telemetry = start_process("cairn-checkpointer", settings.log_format)
    try:
        loops.run(_run(settings))
    finally:
        telemetry.shutdown()


def start_checkpointer(settings: CairnSettings) -> ChildProcesses:
    """The checkpointer process (none if CAIRN_AUDIT_CHECKPOINTER=0); `.stop()` on shutdown."""
    commands = {"checkpointer": [sys.executable, "-m", "entrypoints.checkpointer_cli"]}
    if not settings.audit.checkpointer:
        commands = {}
    return ChildProcesses(child_env(settings), commands, settings.data_dir / "logs").start()


if __name__ == "__main__":
    run_guarded(run_checkpointer)
