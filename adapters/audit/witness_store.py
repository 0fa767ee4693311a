"""A witness's own storage: per log origin, the latest checkpoint it cosigned, in a folder.

Check and persist happen under one exclusive lock (flock on a lock file, which also holds
between processes and between threads that open it separately), and the state file is replaced
atomically after an fsync: a witness never answers before its new state is durable, and two
concurrent requests can never roll it back (C2SP tlog-witness). Requests that carry a valid
log signature but are refused for the proof or a conflicting root are kept as evidence.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from domain.audit.log import NoteSigner
from domain.audit.note import NoteSignature, NoteVerifier
from domain.audit.witness import AddCheckpoint, Cosigned, WitnessRefusal, check, parse_request

_EVIDENCE = (409, 422)


class WitnessStore:
    def __init__(
        self, folder: Path, log_keys: Mapping[str, Sequence[NoteVerifier]], cosigner: NoteSigner
    ) -> None:
        self.folder = folder
        self.log_keys = log_keys
        self.cosigner = cosigner
        folder.mkdir(parents=True, exist_ok=True)

    def _state_path(self, origin: str) -> Path:
        return self.folder / (hashlib.sha256(origin.encode()).hexdigest()[:32] + ".json")

    def latest(self, origin: str) -> Cosigned | None:
        path = self._state_path(origin)
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        return Cosigned(int(state["size"]), base64.b64decode(state["root"]))

    def add_checkpoint(self, body: str) -> list[NoteSignature]:
        """The cosignatures of an `add-checkpoint` body, or WitnessRefusal."""
        request = parse_request(body)
        with (self.folder / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                cosigned = check(request, self.log_keys, self.latest(request.checkpoint.origin))
            except WitnessRefusal as refusal:
                if refusal.status in _EVIDENCE:
                    self._keep_evidence(request, refusal)
                raise
            self._persist(request, cosigned)
        return [self.cosigner.sign(request.note.text)]

    def _persist(self, request: AddCheckpoint, cosigned: Cosigned) -> None:
        path = self._state_path(request.checkpoint.origin)
        state = {
            "origin": request.checkpoint.origin,
            "size": cosigned.size,
            "root": base64.b64encode(cosigned.root).decode(),
            "note": str(request.note),
        }
        _write_durably(path, json.dumps(state, indent=1))

    def _keep_evidence(self, request: AddCheckpoint, refusal: WitnessRefusal) -> None:
        folder = self.folder / "refused"
        folder.mkdir(exist_ok=True)
        name = hashlib.sha256(str(request.note).encode()).hexdigest()[:32] + ".json"
        record = {"status": refusal.status, "why": refusal.message, "note": str(request.note)}
        _write_durably(folder / name, json.dumps(record, indent=1))


def _write_durably(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
