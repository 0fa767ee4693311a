"""One way to read a list from a view: a keyset page, one tenant at a time (row-level
security), optionally after waiting for a position (read-your-writes).

A list names its sort key (`Keyset`): the columns it is ordered by, which way, and the cursor
that carries the last row's key to the next request (projections.engine.cursors). Seeking by
that key instead of an OFFSET keeps every page as cheap as the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from projections.engine.cursors import (
    decode_keyset,
    decode_position,
    encode_keyset,
    encode_position,
)
from projections.engine.view_reads import current_position, tenant_reader, wait_for

Row = dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[Row]
    next_cursor: str | None
    # The store position the view had applied when it was read.
    position: int | None


@dataclass(frozen=True)
class Keyset:
    """The sort key of a list: `(column, SQL type or None)` pairs, in order."""

    columns: tuple[tuple[str, str | None], ...]
    descending: bool
    decode: Callable[[str], Sequence[Any]]
    encode: Callable[[Row], str]

    def seek(self) -> str:
        """The condition for rows after the cursor's row."""
        names = ", ".join(name for name, _ in self.columns)
        values = ", ".join("%s" if cast is None else f"%s::{cast}" for _, cast in self.columns)
        if len(self.columns) > 1:
            names, values = f"({names})", f"({values})"
        return f" AND {names} {'<' if self.descending else '>'} {values}"

    def order(self) -> str:
        way = " DESC" if self.descending else ""
        return " ORDER BY " + ", ".join(name + way for name, _ in self.columns)


def by_time_and_id(time: str, key: str, *, descending: bool = False) -> Keyset:
    """Rows ordered by a timestamp, ties broken by a uuid."""
    return Keyset(
        ((time, "timestamptz"), (key, "uuid")),
        descending,
        decode_keyset,
        lambda row: encode_keyset(row[time], row[key]),
    )


def by_position(column: str = "position", *, descending: bool = True) -> Keyset:
    """Rows ordered by their store position."""
    return Keyset(
        ((column, None),),
        descending,
        lambda cursor: (decode_position(cursor),),
        lambda row: encode_position(row[column]),
    )


def keyset_page(
    pool: ConnectionPool[Any],
    tenant_id: UUID,
    view: str,
    select: str,
    params: Sequence[Any],
    keyset: Keyset,
    *,
    after: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The page of `select` (a query of `view` ending in its WHERE conditions, with `params`)
    after `cursor`, at most `limit` rows, with the cursor of the next page if there is one."""
    if after is not None:
        wait_for(pool, view, after)
    query, values = select, list(params)
    if cursor is not None:
        query += keyset.seek()
        values += keyset.decode(cursor)
    query += keyset.order() + " LIMIT %s"
    values.append(limit + 1)
    with tenant_reader(pool, tenant_id) as cur:
        rows = cur.execute(query, values).fetchall()
        position = current_position(cur.connection, view)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, keyset.encode(rows[-1]) if more else None, position)
