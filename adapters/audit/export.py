"""The signed export straight from the store: every message up to the last checkpoint, the
tenant's in full (every tenant's when none is given) and the others as leaf hashes, with the
checkpoints stored in the stream (``cairn.audit.export/2``, domain/audit/export_format.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from adapters.audit.checkpointer import checkpoint_subject, log_message
from adapters.push.store import StoreReader
from domain.audit.log import ExportWriter
from domain.audit.note import Checkpoint, parse_note
from domain.errors import NotFound

Progress = Callable[[int, int], None]


async def checkpoint_notes(reader: StoreReader, after: int = 0) -> list[tuple[int, str]]:
    """(stream sequence, signed note) of every stored checkpoint after `after`, in order."""
    notes: list[tuple[int, str]] = []
    async for page in reader.scan(checkpoint_subject(reader.prefix), after + 1):
        notes.extend((m.seq, m.data.decode()) for m in page)
    return notes


async def export_signed(
    reader: StoreReader,
    out: TextIO,
    tenant: str | None = None,
    progress: Progress = lambda _done, _total: None,
) -> ExportWriter:
    notes = [note for _seq, note in await checkpoint_notes(reader)]
    if not notes:
        raise NotFound("no checkpoint is stored yet: is `cairn checkpointer` running?")
    origin = Checkpoint.parse(parse_note(notes[-1]).text).origin
    writer = ExportWriter(out, origin, notes, tenant)
    async for page in reader.scan(f"{reader.prefix}.>", 1):
        for message in page:
            if writer.complete:
                break
            writer.add(log_message(message), message.headers)
        progress(writer.log.size, writer.size)
        if writer.complete:
            break
    return writer
