"""Bulk statements whose column arrays are already in PostgreSQL's binary format.

A catch-up worker process (catch_up) dumps the column arrays of a batch's bulk
rows itself, with psycopg's own dumpers, and sends the bytes: pickling them costs nothing,
where pickling the rows' UUIDs, datetimes and JSON wrappers one by one cost as much as
decoding the events (measured: ~25 us per event). The committing process then passes the
bytes through with the type psycopg chose for them, so PostgreSQL receives exactly what the
in-process path sends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

import psycopg
from psycopg import abc, pq
from psycopg.adapt import Dumper, PyFormat, Transformer

from projections.engine.binary_arrays import binary_array
from projections.engine.projector_base import Statement, Writes

logger = logging.getLogger("cairn.projections")


class Dumped:
    """One parameter, already dumped: PostgreSQL binary format of the type `oid`."""

    __slots__ = ("data", "oid")

    def __init__(self, data: bytes | None, oid: int) -> None:
        self.data = data
        self.oid = oid

    def __reduce__(self) -> tuple[type[Dumped], tuple[bytes | None, int]]:
        return Dumped, (self.data, self.oid)


class DumpedDumper(Dumper):
    format = pq.Format.BINARY

    def get_key(self, obj: Any, format: PyFormat) -> abc.DumperKey:
        # One dumper per type oid (psycopg caches dumpers by this key).
        return cast(abc.DumperKey, (Dumped, cast(Dumped, obj).oid))

    def upgrade(self, obj: Any, format: PyFormat) -> Dumper:
        dumper = DumpedDumper(Dumped)
        dumper.oid = cast(Dumped, obj).oid
        return dumper

    def dump(self, obj: Any) -> abc.Buffer | None:
        return cast(Dumped, obj).data


psycopg.adapters.register_dumper(Dumped, DumpedDumper)


def _binary(query: str) -> bool:
    return "%t" not in query  # text placeholders want text: their columns stay lists


def bulk_parameters(query: str, run: Sequence[Statement]) -> list[Any]:
    """One parameter per column of a run of bulk rows: a binary array built in one pass
    where the type and the placeholders allow (binary_arrays), else the column's list
    for psycopg to dump."""
    columns = [list(column) for column in zip(*(row for _, row, _ in run), strict=True)]
    if not _binary(query):
        return columns
    params: list[Any] = []
    for column in columns:
        built = binary_array(column)
        params.append(column if built is None else Dumped(*built))
    return params


def dump_bulk(writes: Writes) -> Writes:
    """The same statements, each run of bulk rows as one statement with its column arrays
    dumped in binary. A run psycopg cannot dump without a connection (a type registered only
    on one) stays as it is: the committing process dumps it."""
    out = Writes()
    transformer: abc.Transformer = Transformer()
    for query, is_bulk, run in writes.runs():
        if is_bulk and _binary(query):
            try:
                params = [_dumped(transformer, p) for p in bulk_parameters(query, run)]
                out.execute(query, params)
                continue
            except psycopg.Error as error:
                logger.debug("bulk rows left to the committing process: %s", error)
        out.statements.extend(run)
    return out


def _dumped(transformer: abc.Transformer, param: Any) -> Dumped:
    if isinstance(param, Dumped):
        return param
    (data,) = transformer.dump_sequence([param], [PyFormat.BINARY])
    (oid,) = transformer.types or (0,)
    return Dumped(None if data is None else bytes(data), oid)
