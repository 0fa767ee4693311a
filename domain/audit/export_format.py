"""The verifiable export, ``cairn.audit.export/2``: NDJSON, one record a line.

1. a header: ``{"format", "origin", "tenant", "size"}`` (tenant null: every tenant in full);
2. every stream sequence 1..size in order: an ``event`` line with the stored bytes and the
   envelope's fields, or, for a message of another tenant (or an internal one), a ``leaf`` line
   with its leaf hash only, which reveals nothing of it;
3. after the line of sequence n, each checkpoint of size n: the signed note with its
   cosignatures and the consistency proof from the export's previous checkpoint.

Every line carries the leaf hash the log holds for it, so a verifier names the changed line
itself, not only the checkpoint whose root stopped matching.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

FORMAT = "cairn.audit.export/2"
_b64 = base64.b64encode


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


def header_line(origin: str, tenant: str | None, size: int) -> str:
    return _dump({"format": FORMAT, "origin": origin, "tenant": tenant, "size": size})


def event_line(
    seq: int,
    subject: str,
    msg_id: str,
    tenant_seq: int,
    leaf: bytes,
    data: bytes,
    *,
    time: str = "",
    headers: Mapping[str, str] | None = None,
) -> str:
    return _dump(
        {
            "kind": "event",
            "seq": seq,
            "subject": subject,
            "msg_id": msg_id,
            "tenant_seq": tenant_seq,
            "leaf": _b64(leaf).decode(),
            "data_b64": _b64(data).decode(),
            "time": time,
            "headers": dict(headers or {}),  # for reading only: headers are not in the leaf
        }
    )


def leaf_line(seq: int, leaf: bytes) -> str:
    return _dump({"kind": "leaf", "seq": seq, "leaf": _b64(leaf).decode()})


def checkpoint_line(note: str, proof: Sequence[bytes]) -> str:
    return _dump({"kind": "checkpoint", "note": note, "proof": [_b64(p).decode() for p in proof]})
