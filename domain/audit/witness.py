"""The rules of a C2SP tlog-witness `add-checkpoint`, apart from its HTTP and its storage.

Request body: ``old <size>\\n``, zero to 63 base64 consistency proof lines, an empty line, then
the signed checkpoint. Answers: 404 unknown origin, 403 no valid signature of a trusted log
key, 400 old size above the checkpoint's (or a malformed body), 409 when the old size is not
the size last cosigned (body: that size) or the same size comes with another root, 422 when
the consistency proof does not verify; otherwise the new checkpoint is to be persisted (in the
same critical section as the check) and cosigned.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.audit.merkle import EMPTY_ROOT, ProofError, verify_consistency
from domain.audit.note import (
    Checkpoint,
    NoteError,
    NoteVerifier,
    SignedNote,
    parse_note,
    verified_by,
)

_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")
MAX_PROOF_LINES = 63


class WitnessRefusal(Exception):
    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size  # for 409 on a stale old size: the size the witness holds


@dataclass(frozen=True)
class AddCheckpoint:
    old: int
    proof: tuple[bytes, ...]
    note: SignedNote
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Cosigned:
    size: int
    root: bytes


def parse_request(body: str) -> AddCheckpoint:
    head, sep, note_text = body.partition("\n\n")
    if not sep:
        raise WitnessRefusal(400, "the body is old size, proof lines, an empty line, a checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None or len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRefusal(400, "the first line is `old <size>`; at most 63 proof lines follow")
    try:
        proof = tuple(base64.b64decode(line, validate=True) for line in lines[1:])
        note = parse_note(note_text)
        checkpoint = Checkpoint.parse(note.text)
    except (binascii.Error, NoteError) as exc:
        raise WitnessRefusal(400, f"malformed request: {exc}") from exc
    return AddCheckpoint(int(match.group(1)), proof, note, checkpoint)


def check(
    request: AddCheckpoint,
    log_keys: Mapping[str, Sequence[NoteVerifier]],
    latest: Cosigned | None,
) -> Cosigned:
    """What to persist and cosign, or the refusal (WitnessRefusal) the protocol asks for."""
    checkpoint = request.checkpoint
    keys = log_keys.get(checkpoint.origin)
    if keys is None:
        raise WitnessRefusal(404, f"unknown log origin {checkpoint.origin!r}")
    try:
        signed = verified_by(request.note, keys)
    except NoteError as exc:
        raise WitnessRefusal(403, str(exc)) from exc
    if not signed:
        raise WitnessRefusal(403, "no signature of a trusted key of this log")
    if request.old > checkpoint.size:
        raise WitnessRefusal(400, "the old size is larger than the checkpoint's")
    held = latest.size if latest is not None else 0
    if request.old != held:
        raise WitnessRefusal(409, f"this witness last cosigned size {held}", held)
    if latest is not None and checkpoint.size == latest.size:
        if checkpoint.root != latest.root:
            raise WitnessRefusal(409, "another root for the size this witness cosigned", held)
        return Cosigned(checkpoint.size, checkpoint.root)
    if latest is None or latest.size == 0:
        if request.proof:
            raise WitnessRefusal(422, "the proof from size 0 is empty")
        if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
            raise WitnessRefusal(422, "a size-0 checkpoint has the empty tree's root")
        return Cosigned(checkpoint.size, checkpoint.root)
    try:
        verify_consistency(
            latest.size, checkpoint.size, latest.root, checkpoint.root, request.proof
        )
    except ProofError as exc:
        raise WitnessRefusal(422, f"the consistency proof does not verify: {exc}") from exc
    return Cosigned(checkpoint.size, checkpoint.root)


def request_body(old: int, proof: Sequence[bytes], note: SignedNote) -> str:
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return "\n".join(lines) + "\n\n" + str(note)
