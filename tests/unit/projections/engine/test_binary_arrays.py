"""Binary column arrays built in one pass are byte for byte what psycopg sends for the same
values; anything this cannot encode is left to psycopg."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int8

from projections.engine.binary_arrays import binary_array
from projections.views.directory.security_events import _dumps

pytestmark = pytest.mark.unit


def psycopg_dump(values: list[Any]) -> tuple[bytes, int]:
    transformer = Transformer()
    (data,) = transformer.dump_sequence([values], [PyFormat.BINARY])
    assert data is not None and transformer.types is not None
    return bytes(data), transformer.types[0]


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.one_of(st.none(), strategy), min_size=1, max_size=20).filter(
        lambda values: any(v is not None for v in values)
    )


zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=zones
)


@given(
    uuids=_maybe(st.uuids()),
    texts=_maybe(
        st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
    ),
    stamps=_maybe(moments),
    documents=_maybe(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5))),
)
def test_the_same_bytes_as_psycopg(
    uuids: list[Any], texts: list[Any], stamps: list[Any], documents: list[Any]
) -> None:
    wrapped = [None if d is None else Jsonb(d, dumps=_dumps) for d in documents]
    for values in (uuids, texts, stamps, wrapped):
        assert binary_array(values) == psycopg_dump(values)


@given(_maybe(st.integers(-(2**63), 2**63 - 1)))
def test_integers_go_as_bigint_like_psycopg_int8(values: list[int | None]) -> None:
    assert binary_array(values) == psycopg_dump([None if v is None else Int8(v) for v in values])


@pytest.mark.parametrize(
    "values",
    [
        [None, None],  # no type to tell
        [1, "one"],  # mixed
        [True, False],  # bool is not an int here
        [2**64],  # beyond bigint
        [datetime(2026, 1, 1)],  # naive: a timestamp
        ["lone \ud800"],  # not UTF-8
        [Jsonb({"a": 1})],  # the connection's JSON settings would apply
        [1.5],  # no fast path
    ],
)
def test_what_it_cannot_encode_is_left_to_psycopg(values: list[Any]) -> None:
    assert binary_array(values) is None


def test_uuids_and_nulls_in_one_array() -> None:
    one = uuid.uuid4()
    built = binary_array([one, None])
    assert built is not None and built[1] == 2951
    assert one.bytes in built[0] and b"\xff\xff\xff\xff" in built[0]
