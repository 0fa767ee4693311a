"""Column arrays of bulk rows in PostgreSQL's binary array format, for the common types.

psycopg dumps a list element by element in Python (~9 us per row of the security view,
measured): as much as decoding the event. For a column whose values are all UUIDs, ints,
strings, aware datetimes or Jsonb with its own `dumps` (or None), the array is built here in
one pass; anything else is left to psycopg (None is returned).

The format is PostgreSQL's `array_send`: dimensions, a has-NULLs flag, the element type,
then each element as its length (-1 for NULL) and its binary value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

_HEADER = struct.Struct(">iiIii")  # ndim, has nulls, element oid, size, lower bound
_LENGTH = struct.Struct(">i")
_INT8 = struct.Struct(">iq")  # length 8, then the value
_NULL = _LENGTH.pack(-1)
_UUID_LENGTH = _LENGTH.pack(16)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _uuid(value: UUID) -> bytes:
    return _UUID_LENGTH + value.bytes


def _int8(value: int) -> bytes:
    return _INT8.pack(8, value)  # struct.error beyond 64 bits: left to psycopg


def _text(value: str) -> bytes:
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def _timestamptz(value: datetime) -> bytes:
    if value.tzinfo is None:
        raise ValueError("a naive datetime is a timestamp, not a timestamptz")
    delta = value - _PG_EPOCH
    return _INT8.pack(8, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _jsonb(value: Jsonb) -> bytes:
    if value.dumps is None:
        raise ValueError("the connection's JSON settings apply: left to psycopg")
    text = value.dumps(value.obj)
    data = b"\x01" + (text.encode() if isinstance(text, str) else bytes(text))
    return _LENGTH.pack(len(data)) + data


# Python type -> (element oid, array oid, element encoder)
_TYPES: dict[type, tuple[int, int, Callable[[Any], bytes]]] = {
    UUID: (2950, 2951, _uuid),
    int: (20, 1016, _int8),
    str: (25, 1009, _text),
    datetime: (1184, 1185, _timestamptz),
    Jsonb: (3802, 3807, _jsonb),
}


def binary_array(values: Sequence[Any]) -> tuple[bytes, int] | None:
    """The column as a one-dimensional binary array and its type oid, or None to leave it to
    psycopg (another type, mixed types, all NULL, or a value this cannot encode)."""
    kind = next((type(v) for v in values if v is not None), None)
    found = _TYPES.get(kind) if kind is not None else None
    if found is None:
        return None
    element, array, encode = found
    parts: list[bytes] = []
    nulls = 0
    try:
        for value in values:
            if value is None:
                parts.append(_NULL)
                nulls = 1
            elif type(value) is kind:
                parts.append(encode(value))
            else:
                return None
    except (ValueError, struct.error, UnicodeError):
        return None
    return _HEADER.pack(1, nulls, element, len(values), 1) + b"".join(parts), array
