"""What a verification of an export can find, each named with its sequence and class."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FindingClass(StrEnum):
    MUTATED = "mutated"
    MISSING = "missing"
    INSERTED = "inserted"
    REORDERED = "reordered"
    TRUNCATED_TAIL = "truncated tail"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad signature"
    NO_QUORUM = "no quorum"
    FORK = "fork"
    ROLLBACK = "rollback"
    DECISION = "decision does not reproduce"


@dataclass(frozen=True)
class Finding:
    kind: FindingClass
    detail: str
    seq: int | None = None  # the stream sequence (or, for a checkpoint, its size)
    decision_id: str | None = None

    def __str__(self) -> str:
        if self.decision_id is not None:
            return f"{self.kind} at seq {self.seq}: decision {self.decision_id}: {self.detail}"
        if self.seq is None:
            return f"{self.kind}: {self.detail}"
        return f"{self.kind} at seq {self.seq}: {self.detail}"
