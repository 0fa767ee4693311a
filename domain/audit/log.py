"""The audit log as the checkpointer and the exporter build it: one leaf per stored message,
in stream order, with no gap (a missing sequence would make every later root unverifiable, so
it stops the log instead of being signed over)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
    header_block: bytes = b""


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


def write_export(
    out: TextIO,
    origin: str,
    messages: Iterable[LogMessage],
    notes: Iterable[str],
    tenant: str | None = None,
) -> int:
    """Write the export of the log up to its last checkpoint; the number of lines of events."""
    by_size: dict[int, list[str]] = {}
    for note in notes:
        by_size.setdefault(Checkpoint.parse(parse_note(note).text).size, []).append(note)
    size = max(by_size, default=0)
    out.write(fmt.header_line(origin, tenant, size))
    log = AuditLog()
    previous = 0
    events = 0
    for message in _upto(messages, size):
        leaf, tenant_seq = log.append(message)
        if tenant is None or tenant_of(message.subject) == tenant:
            out.write(_event(message, tenant_seq, leaf))
            events += 1
        else:
            out.write(fmt.leaf_line(message.seq, leaf))
        previous = _checkpoints(out, log, by_size, previous)
    return events


def _upto(messages: Iterable[LogMessage], size: int) -> Iterator[LogMessage]:
    for message in messages:
        if message.seq > size:
            return
        yield message


def _event(message: LogMessage, tenant_seq: int, leaf: bytes) -> str:
    return fmt.event_line(
        message.seq,
        message.subject,
        message.msg_id,
        tenant_seq,
        leaf,
        message.data,
        time=message.time,
        header_block=message.header_block,
    )


def _checkpoints(
    out: TextIO, log: AuditLog, by_size: Mapping[int, list[str]], previous: int
) -> int:
    for note in by_size.get(log.size, ()):
        proof = log.tree.consistency_proof(previous, log.size) if previous else []
        out.write(fmt.checkpoint_line(note, proof))
        previous = log.size
    return previous
