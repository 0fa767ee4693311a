"""Opaque keyset cursors of paged queries, checked strictly before any value reaches SQL.

A cursor is base64url JSON of the last row's sort key. It is not signed: whatever it says, the
query still runs under the caller's tenant (row-level security), so a made-up cursor can only
seek within rows the caller may read anyway (decision 0011). What it must never do is reach
PostgreSQL as a value of the wrong type or range: each is checked here, and anything else is
400 `invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.errors import InvalidInput
from domain.storable import MAX_POSITION

_ALPHABET = re.compile(r"[A-Za-z0-9_-]{1,400}")


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"


def _refused(cursor: str) -> InvalidCursor:
    return InvalidCursor("the cursor is not one this API gave out", {"cursor": cursor[:100]})


def _values(cursor: str, size: int) -> list[Any]:
    if not _ALPHABET.fullmatch(cursor):
        raise _refused(cursor)
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise _refused(cursor) from error
    if not isinstance(values, list) or len(values) != size:
        raise _refused(cursor)
    return values


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def encode_keyset(stamp: datetime, key: UUID | str) -> str:
    """The cursor after a row sorted by (time, id)."""
    return _encode([stamp.isoformat(), str(key)])


def decode_keyset(cursor: str) -> tuple[datetime, UUID]:
    stamp, key = _values(cursor, 2)
    if not isinstance(stamp, str) or not isinstance(key, str):
        raise _refused(cursor)
    try:
        moment, parsed = datetime.fromisoformat(stamp), UUID(key)
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise _refused(cursor) from error
    return moment, parsed


def encode_position(position: int) -> str:
    """The cursor after a row sorted by store position."""
    return _encode([position])


def decode_position(cursor: str) -> int:
    (position,) = _values(cursor, 1)
    if type(position) is not int or not 0 <= position <= MAX_POSITION:
        raise _refused(cursor)
    return position
