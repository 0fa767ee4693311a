"""The signed checkpoints of an export: signatures, a witness quorum, and a chain of
consistency proofs that only grows (a fork or a rollback is a finding)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.audit.findings import Finding, FindingClass
from domain.audit.merkle import ProofError, verify_consistency
from domain.audit.note import Checkpoint, NoteError, NoteVerifier, parse_note, verified_by


@dataclass
class CheckpointChain:
    origin: str
    log_keys: Sequence[NoteVerifier]
    witness_keys: Sequence[NoteVerifier]
    quorum: int
    findings: list[Finding] = field(default_factory=list)
    accepted: list[Checkpoint] = field(default_factory=list)  # signed, in the export's order
    cosigned: int = 0

    @property
    def latest(self) -> Checkpoint | None:
        return max(self.accepted, key=lambda c: c.size, default=None)

    def add(self, note_text: str, proof_b64: Sequence[str]) -> Checkpoint | None:
        """Check one checkpoint line; the checkpoint if its log signature holds."""
        try:
            note = parse_note(note_text)
            checkpoint = Checkpoint.parse(note.text)
            signed = verified_by(note, self.log_keys)
            witnesses = verified_by(note, self.witness_keys)
            proof = [base64.b64decode(p, validate=True) for p in proof_b64]
        except (NoteError, binascii.Error, ValueError) as exc:
            self.findings.append(Finding(FindingClass.BAD_SIGNATURE, f"checkpoint: {exc}"))
            return None
        size = checkpoint.size
        if checkpoint.origin != self.origin or not signed:
            why = "another log's origin" if signed else "no signature of the log key"
            self.findings.append(Finding(FindingClass.BAD_SIGNATURE, f"checkpoint: {why}", size))
            return None
        if len(witnesses) < self.quorum:
            self.findings.append(
                Finding(
                    FindingClass.NO_QUORUM,
                    f"checkpoint cosigned by {len(witnesses)} trusted witness(es), "
                    f"{self.quorum} required",
                    size,
                )
            )
        else:
            self.cosigned += 1
        self._check_growth(checkpoint, proof)
        self.accepted.append(checkpoint)
        return checkpoint

    def _check_growth(self, checkpoint: Checkpoint, proof: list[bytes]) -> None:
        previous = self.accepted[-1] if self.accepted else None
        latest = self.latest
        if latest is not None and checkpoint.size < latest.size:
            self.findings.append(
                Finding(
                    FindingClass.ROLLBACK,
                    f"checkpoint of size {checkpoint.size} after one of size {latest.size}",
                    checkpoint.size,
                )
            )
            return
        if previous is None or previous.size == 0:
            return
        try:
            verify_consistency(
                previous.size, checkpoint.size, previous.root, checkpoint.root, proof
            )
        except ProofError as exc:
            self.findings.append(
                Finding(
                    FindingClass.FORK,
                    f"not consistent with the checkpoint of size {previous.size}: {exc}",
                    checkpoint.size,
                )
            )
