"""The audit log as the API reads it: checkpoints from the stream, proofs from a tree this
process keeps in memory and extends on demand up to the checkpoint asked about (the first
proof after a start reads the stream once; see decision 0028)."""

from __future__ import annotations

import asyncio
from itertools import takewhile

from adapters.audit.checkpointer import checkpoint_subject, log_message
from adapters.audit.export import checkpoint_notes
from adapters.jetstream import headers as h
from adapters.push.store import StoreReader
from commands.ports.audit_log import Inclusion, NotCheckpointedYet, StoredCheckpoint
from domain.audit.envelope import tenant_of
from domain.audit.log import AuditLog
from domain.audit.note import Checkpoint, parse_note
from domain.errors import InvalidInput, NotFound

_HIDDEN = "no such event of your tenant in the audit log"


def _stored(seq: int, note: str) -> StoredCheckpoint:
    return StoredCheckpoint(seq, Checkpoint.parse(parse_note(note).text).size, note)


class StoreAuditLog:
    def __init__(self, reader: StoreReader) -> None:
        self.reader = reader
        self.log = AuditLog()
        self._subjects: list[str] = []
        self._tenant_seqs: list[int] = []
        self._known: list[StoredCheckpoint] = []
        self._lock = asyncio.Lock()

    async def checkpoints(self, after: int = 0, limit: int = 100) -> list[StoredCheckpoint]:
        found: list[StoredCheckpoint] = []
        async for page in self.reader.scan(checkpoint_subject(self.reader.prefix), after + 1):
            found.extend(_stored(m.seq, m.data.decode()) for m in page)
            if len(found) >= limit:
                break
        return found[:limit]

    async def _refresh(self) -> None:
        after = self._known[-1].position if self._known else 0
        self._known.extend(_stored(s, n) for s, n in await checkpoint_notes(self.reader, after))

    async def _checkpoint(
        self, size: int | None, covering: int = 0, *, first: bool = False
    ) -> StoredCheckpoint:
        """The checkpoint of `size`; else the latest one (or the first) covering `covering`."""
        await self._refresh()
        if size is not None:
            for checkpoint in self._known:
                if checkpoint.size == size:
                    return checkpoint
            raise NotFound("no checkpoint of that size", {"size": size})
        ordered = self._known if first else reversed(self._known)
        for checkpoint in ordered:
            if checkpoint.size >= covering:
                return checkpoint
            if not first:
                break
        raise NotCheckpointedYet(
            "no checkpoint covers this position yet; ask again after the next one",
            {"position": covering},
        )

    async def _grow(self, size: int) -> None:
        async with self._lock:
            if self.log.size >= size:
                return
            async for page in self.reader.scan(f"{self.reader.prefix}.>", self.log.size + 1):
                for message in page:
                    if self.log.size >= size:
                        return
                    _leaf, tenant_seq = self.log.append(log_message(message))
                    self._subjects.append(message.subject)
                    self._tenant_seqs.append(tenant_seq)

    async def _inclusion(self, tenant: str, seq: int, checkpoint: StoredCheckpoint) -> Inclusion:
        await self._grow(checkpoint.size)
        if not 0 < seq <= checkpoint.size or tenant_of(self._subjects[seq - 1]) != tenant:
            raise NotFound(_HIDDEN, {"seq": seq})  # another tenant's event is never revealed
        return Inclusion(
            seq,
            self.log.tree.levels[0][seq - 1],
            self._tenant_seqs[seq - 1],
            self.log.tree.inclusion_proof(seq - 1, checkpoint.size),
            checkpoint,
        )

    async def inclusion(self, tenant: str, seq: int, size: int | None = None) -> Inclusion:
        # Whose event it is comes first: another tenant's sequence is a 404 whether or not a
        # checkpoint covers it yet.
        page, _pending = await self.reader.direct({"seq": seq})
        if not page or tenant_of(page[0].subject) != tenant:
            raise NotFound(_HIDDEN, {"seq": seq})
        checkpoint = await self._checkpoint(size, covering=seq)
        return await self._inclusion(tenant, seq, checkpoint)

    async def consistency(self, old: int, new: int) -> tuple[StoredCheckpoint, list[bytes]]:
        if not 0 < old <= new:
            raise InvalidInput("`old` is between 1 and `new`", {"old": old, "new": new})
        checkpoint = await self._checkpoint(new)
        await self._grow(new)
        return checkpoint, self.log.tree.consistency_proof(old, new)

    async def receipt(
        self, tenant: str, command_id: str, aggregate_id: str | None = None
    ) -> list[Inclusion]:
        marker = await self.reader.last_of(
            f"{self.reader.prefix}.{h.COMMANDS}.{h.encode_token(command_id)}"
        )
        if marker is not None and marker.headers.get(h.TENANT) == tenant:
            # The command's events follow its marker in the same atomic batch.
            last = marker.seq + int(marker.headers.get(h.EVENT_COUNT, "0"))
            candidates = list(range(marker.seq + 1, last + 1))
        elif aggregate_id:
            candidates = await self._created_by(tenant, command_id, aggregate_id)
            last = candidates[-1]
        else:
            raise NotFound("no command of your tenant with that id", {"command_id": command_id})
        checkpoint = await self._checkpoint(None, covering=last, first=True)
        await self._grow(checkpoint.size)
        seqs = [s for s in candidates if tenant_of(self._subjects[s - 1]) == tenant]
        return [await self._inclusion(tenant, seq, checkpoint) for seq in seqs]

    async def _created_by(self, tenant: str, command_id: str, aggregate_id: str) -> list[int]:
        """A command that created one aggregate stores no marker (decision 0021): its events
        are the aggregate's first ones, each naming the command."""
        subjects = f"{self.reader.prefix}.{h.tenant_token(tenant)}.*.{h.encode_token(aggregate_id)}"
        found: list[int] = []
        async for page in self.reader.scan(subjects, 1):
            ours = list(takewhile(lambda m: m.headers.get(h.COMMAND_ID) == command_id, page))
            found.extend(m.seq for m in ours)
            if len(ours) < len(page):  # the command's first save ends within this page
                break
        if not found:
            raise NotFound(
                "no command of your tenant with that id created that aggregate",
                {"command_id": command_id, "aggregate_id": aggregate_id},
            )
        return found
