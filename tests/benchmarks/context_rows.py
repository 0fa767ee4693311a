"""Synthetic context memories loaded with COPY in binary: one numpy record per row, written
in PostgreSQL's binary COPY format (a million 384-d rows in minutes, not the hour of text
parsing and per-row functions). The vectors come from tests/integration/context/synthetic.py."""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2
_TRAILER = b"\xff\xff"
_EPOCH_2000_US = 946_684_800_000_000
_COLUMNS = (
    "tenant_id, user_id, memory_id, kind, text, search, model, dim, embedding,"
    " noted_at, updated_at, position"
)
_LEXEME = b"memory\x00\x00\x01\x00\x01"  # 'memory':1 (a position entry of weight D, pos 1)


def _dtype(user: bytes, model: bytes, dim: int) -> np.dtype[Any]:
    def field(name: str, kind: str) -> list[tuple[Any, ...]]:
        return [(f"{name}_len", ">i4"), (name, kind)]

    fields: list[tuple[Any, ...]] = [("fields", ">i2")]
    for name, kind in (
        ("tenant", "S16"),
        ("user", f"S{len(user)}"),
        ("memory", "S16"),
        ("kind", "S4"),
        ("text", "S14"),
    ):
        fields += field(name, kind)
    fields += [("search_len", ">i4"), ("lexemes", ">i4"), ("lexeme", f"S{len(_LEXEME)}")]
    fields += field("model", f"S{len(model)}") + field("dim", ">i4")
    fields += [("vector_len", ">i4"), ("vector_dim", ">i2"), ("vector_unused", ">i2")]
    fields += [("vector", ">f4", (dim,))]
    for name in ("noted", "updated", "position"):
        fields += field(name, ">i8")
    return np.dtype(fields, align=False)


def copy_rows(
    conn: psycopg.Connection[Any],
    table: str,
    tenant: uuid.UUID,
    user: str,
    model: str,
    vectors: np.ndarray,
    *,
    first: int = 0,
    noted_us: int = 0,
) -> list[uuid.UUID]:
    """COPY one person's rows (text "memory <i>"); returns their memory ids in row order."""
    n, dim = vectors.shape
    user_b, model_b = user.encode(), model.encode()
    rows = np.zeros(n, dtype=_dtype(user_b, model_b, dim))
    ids = [uuid.uuid4() for _ in range(n)]
    rows["fields"] = 12
    for name, length in (
        ("tenant", 16),
        ("user", len(user_b)),
        ("memory", 16),
        ("kind", 4),
        ("text", 14),
        ("model", len(model_b)),
        ("dim", 4),
        ("noted", 8),
        ("updated", 8),
        ("position", 8),
    ):
        rows[f"{name}_len"] = length
    rows["tenant"] = tenant.bytes
    rows["user"] = user_b
    rows["memory"] = [i.bytes for i in ids]
    rows["kind"] = b"note"
    rows["text"] = [f"memory {first + i:07d}".encode() for i in range(n)]
    rows["search_len"] = 4 + len(_LEXEME)
    rows["lexemes"] = 1
    rows["lexeme"] = _LEXEME
    rows["model"] = model_b
    rows["dim"] = dim
    rows["vector_len"] = 4 + 4 * dim
    rows["vector_dim"] = dim
    rows["vector"] = vectors
    rows["noted"] = rows["updated"] = noted_us or _now_us()
    rows["position"] = 1
    query = sql.SQL("COPY {} (" + _COLUMNS + ") FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table)
    )
    with conn.cursor().copy(query) as copy:
        copy.write(_HEADER)
        step = 5_000
        for start in range(0, n, step):
            copy.write(rows[start : start + step].tobytes())
        copy.write(_TRAILER)
    return ids


def _now_us() -> int:
    return int(time.time() * 1_000_000) - _EPOCH_2000_US
