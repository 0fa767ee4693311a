"""Bulk rows dumped by a catch-up worker process: one statement per run, binary column arrays
with the types psycopg would have sent; what cannot be dumped without a connection is left."""

from __future__ import annotations

import pickle
import uuid
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from projections.engine.bulk_parameters import Dumped, bulk_parameters, dump_bulk
from projections.engine.projector_base import Writes

pytestmark = pytest.mark.unit

BULK = "INSERT INTO t SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::jsonb[])"
OTHER = "UPDATE t SET n = n + 1 WHERE id = %s"


def _row(n: int, kind: str | None = "k") -> tuple[Any, ...]:
    return (uuid.UUID(int=n), n, kind, Jsonb({"n": n}))


def test_a_run_of_bulk_rows_becomes_one_statement_of_dumped_columns() -> None:
    writes = Writes()
    for n in range(3):
        writes.bulk(BULK, _row(n, None if n == 1 else "k"))
    writes.execute(OTHER, (7,))
    writes.bulk(BULK, _row(9))
    dumped = pickle.loads(pickle.dumps(dump_bulk(writes)))
    assert [(q, b) for q, _, b in dumped.statements] == [
        (BULK, False),
        (OTHER, False),
        (BULK, False),
    ]
    first = dumped.statements[0][1]
    assert all(isinstance(p, Dumped) and p.data for p in first)
    # Binary arrays: 1 dimension, element type and length in the header, then the elements.
    uuids = first[0].data
    assert uuids[:4] == b"\x00\x00\x00\x01" and uuids[12:16] == b"\x00\x00\x00\x03"
    assert uuid.UUID(int=2).bytes in uuids
    assert first[2].data is not None and b"\xff\xff\xff\xff" in first[2].data  # the NULL kind
    assert dumped.statements[1][1] == (7,)


def test_text_placeholders_and_values_without_a_dumper_are_left_as_they_are() -> None:
    writes = Writes()
    text_query = "INSERT INTO t SELECT * FROM unnest(%t::text[])"
    writes.bulk(text_query, ("a",))
    writes.bulk(BULK, (uuid.uuid4(), 1, "k", object()))  # psycopg cannot dump an object
    before = list(writes.statements)
    assert dump_bulk(writes).statements == before


def test_the_committing_process_gets_binary_arrays_only_for_binary_placeholders() -> None:
    """What `views` executes in process: the same rule as the worker processes' dumping."""
    writes = Writes()
    for n in range(2):
        writes.bulk(BULK, (uuid.UUID(int=n), n, "k", 1.5))
    ((_, _, run),) = writes.runs()
    params = bulk_parameters(BULK, run)
    assert [type(p) for p in params] == [Dumped, Dumped, Dumped, list]
    assert params[3] == [1.5, 1.5]  # no fast path for floats: psycopg dumps the list
    text_query = BULK.replace("%b", "%t")
    assert bulk_parameters(text_query, run) == [
        [uuid.UUID(int=0), uuid.UUID(int=1)],
        [0, 1],
        ["k", "k"],
        [1.5, 1.5],
    ]
