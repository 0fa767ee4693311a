"""What the API reads of the audit log: checkpoints, proofs and receipts (docs/audit.md).

A person sees proofs about their own tenant's events only; a checkpoint and a consistency proof
reveal the log's size and hashes of whole subtrees, nothing of any event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.errors import Conflict


class NotCheckpointedYet(Conflict):
    """The events exist but no checkpoint covers them yet: ask again after the next one."""

    code = "audit_not_checkpointed"


@dataclass(frozen=True)
class StoredCheckpoint:
    position: int  # the stream sequence of the checkpoint message
    size: int
    note: str  # the C2SP signed note, with its cosignatures


@dataclass(frozen=True)
class Inclusion:
    seq: int
    leaf: bytes
    tenant_seq: int
    proof: Sequence[bytes]
    checkpoint: StoredCheckpoint


class AuditLogReads(Protocol):
    async def checkpoints(self, after: int, limit: int) -> list[StoredCheckpoint]: ...

    async def inclusion(self, tenant: str, seq: int, size: int | None) -> Inclusion:
        """Proof of the tenant's event at `seq` in the checkpoint of `size` (the latest when
        None); NotFound for another tenant's event, NotCheckpointedYet past the latest."""
        ...

    async def consistency(self, old: int, new: int) -> tuple[StoredCheckpoint, list[bytes]]:
        """Proof that the checkpoint of size `new` extends the tree of size `old`."""
        ...

    async def receipt(
        self, tenant: str, command_id: str, aggregate_id: str | None = None
    ) -> list[Inclusion]:
        """The inclusion proofs of a command's events against the first checkpoint covering
        them all. A command that created one aggregate stored no marker: `aggregate_id` (the
        id its answer gave) finds its events."""
        ...
