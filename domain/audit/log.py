"""The audit log as the checkpointer and the exporter build it: one leaf per stored message,
in stream order, with no gap (a missing sequence would make every later root unverifiable, so
it stops the log instead of being signed over)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TextIO

from domain.audit import export_format as fmt
from domain.audit.envelope import TenantSequences, message_leaf, tenant_of
from domain.audit.merkle import Tree
from domain.audit.note import Checkpoint, NoteSignature, SignedNote, parse_note
from domain.errors import Conflict


class GapInLog(Conflict):
    code = "audit_gap"


@dataclass(frozen=True, slots=True)
class LogMessage:
    seq: int
    subject: str
    msg_id: str
    data: bytes
    time: str = ""


class NoteSigner(Protocol):
    def sign(self, text: str) -> NoteSignature: ...


class AuditLog:
    def __init__(self) -> None:
        self.tree = Tree([])
        self.tenants = TenantSequences()

    @property
    def size(self) -> int:
        return self.tree.size

    def append(self, message: LogMessage) -> tuple[bytes, int]:
        """(leaf hash, tenant sequence) of the next message; GapInLog unless it is the next."""
        if message.seq != self.tree.size + 1:
            raise GapInLog(
                f"the log holds {self.tree.size} leaves and was given sequence {message.seq}: "
                "a gap in the stream is never signed over",
                {"expected": self.tree.size + 1, "got": message.seq},
            )
        tenant_seq = self.tenants.next(message.subject)
        leaf = message_leaf(message.seq, message.subject, message.msg_id, tenant_seq, message.data)
        self.tree.append(leaf)
        return leaf, tenant_seq

    def checkpoint(self, origin: str, signer: NoteSigner) -> SignedNote:
        text = Checkpoint(origin, self.size, self.tree.root()).text()
        return SignedNote(text, (signer.sign(text),))


class ExportWriter:
    """Writes an export as the messages come, in stream order, each checkpoint after the
    message of its size with a consistency proof from the export's previous checkpoint."""

    def __init__(
        self, out: TextIO, origin: str, notes: Iterable[str], tenant: str | None = None
    ) -> None:
        self.by_size: dict[int, list[str]] = {}
        for note in notes:
            size = Checkpoint.parse(parse_note(note).text).size
            self.by_size.setdefault(size, []).append(note)
        self.size = max(self.by_size, default=0)
        self.out = out
        self.tenant = tenant
        self.log = AuditLog()
        self.previous = 0
        self.events = 0
        out.write(fmt.header_line(origin, tenant, self.size))

    @property
    def complete(self) -> bool:
        return self.log.size >= self.size

    def add(self, message: LogMessage, headers: Mapping[str, str] | None = None) -> None:
        leaf, tenant_seq = self.log.append(message)
        if self.tenant is None or tenant_of(message.subject) == self.tenant:
            self.out.write(_event(message, tenant_seq, leaf, headers))
            self.events += 1
        else:
            self.out.write(fmt.leaf_line(message.seq, leaf))
        for note in self.by_size.get(self.log.size, ()):
            size = self.log.size
            proof = self.log.tree.consistency_proof(self.previous, size) if self.previous else []
            self.out.write(fmt.checkpoint_line(note, proof))
            self.previous = size


def write_export(
    out: TextIO,
    origin: str,
    messages: Iterable[LogMessage],
    notes: Iterable[str],
    tenant: str | None = None,
) -> int:
    """Write the export of the log up to its last checkpoint; the number of lines of events."""
    writer = ExportWriter(out, origin, notes, tenant)
    for message in messages:
        if writer.complete:
            break
        writer.add(message)
    return writer.events


def _event(
    message: LogMessage, tenant_seq: int, leaf: bytes, headers: Mapping[str, str] | None
) -> str:
    return fmt.event_line(
        message.seq,
        message.subject,
        message.msg_id,
        tenant_seq,
        leaf,
        message.data,
        time=message.time,
        headers=headers,
    )
