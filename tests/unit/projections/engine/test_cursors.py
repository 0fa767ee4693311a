"""Cursors round-trip, and anything not made by this API is refused before it reaches SQL."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.storable import MAX_POSITION
from projections.engine.cursors import (
    InvalidCursor,
    decode_keyset,
    decode_position,
    encode_keyset,
    encode_position,
)

pytestmark = pytest.mark.unit


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_cursors_round_trip() -> None:
    stamp, key = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), uuid4()
    assert decode_keyset(encode_keyset(stamp, key)) == (stamp, key)
    local = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    moment, _ = decode_keyset(encode_keyset(local, key))
    assert moment == local and moment.tzinfo is UTC
    for position in (0, 1, MAX_POSITION):
        assert decode_position(encode_position(position)) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "%%%",
        "a b",
        "A" * 401,
        _b64(b"\xff\xfe"),
        _b64(b"{not json"),
        _b64({"a": 1}),
        _b64([]),
        _b64([1, 2, 3]),
        _b64(["not a time", "00000000-0000-4000-8000-000000000001"]),
        _b64(["2026-01-01T00:00:00+00:00", "not a uuid"]),
        _b64(["2026-01-01T00:00:00", "00000000-0000-4000-8000-000000000002"]),  # no time zone
        _b64(
            ["0001-01-01T00:00:00+23:59", "00000000-0000-4000-8000-000000000003"]
        ),  # before year 1 in UTC
        _b64([None, None]),
        _b64([1, 2]),
        _b64(["2026-01-01T00:00:00+00:00", 7]),
    ],
)
def test_a_keyset_cursor_not_given_out_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as refused:
        decode_keyset(cursor)
    assert refused.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    "cursor",
    [_b64(v) for v in ([-1], [MAX_POSITION + 1], [2**64], [1.5], [True], ["7"], [None], [1, 2])],
)
def test_a_position_cursor_not_given_out_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_position(cursor)


def test_a_keyset_cursor_gives_typed_values() -> None:
    key = uuid4()
    moment, parsed = decode_keyset(_b64(["2026-05-06T07:08:09Z", str(key)]))
    assert isinstance(parsed, UUID) and parsed == key
    assert moment == datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
