"""Generations of a projector's views: create one beside the others, switch atomically, drop old.

Every generation has its own tables (`<table>__g<n>`). The stable name `<table>` is a view
(`security_invoker`, so row-level security applies to whoever queries it) over the active
generation. Switching retires the old generation, activates the new one and replaces the views,
all in one transaction: a query sees either the old rows or the new ones, never none.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from domain.errors import Conflict
from projections.engine.errors import BuildInProgress, SchemaMissing
from projections.engine.projector_base import Projector, physical_table
from projections.engine.view_signals import SWITCH_CHANNEL

logger = logging.getLogger("cairn.projections")

OWNER_ROLE = "cairn_owner"
APP_ROLE = "cairn_app"
Cursor = psycopg.Cursor[Any]

# A missing or empty tenant setting is NULL after NULLIF: no row matches (fails closed).
_TENANT_POLICY = (
    "CREATE POLICY {policy} ON {table} FOR SELECT "
    "USING (tenant_id = NULLIF(current_setting('cairn.tenant_id', true), '')::uuid)"
)
_OWNER_POLICY = "CREATE POLICY {policy} ON {table} TO cairn_owner USING (true) WITH CHECK (true)"


@dataclass(frozen=True)
class Generation:
    projector: str
    generation: int
    version: int
    status: str
    source: str  # the event store it is built from (ProjectionSettings.source)


def lock_key(projector: str) -> int:
    """First half of the advisory lock keys of one projector (second: generation, 0 = admin)."""
    key = zlib.crc32(f"cairn.projector:{projector}".encode())
    return key - 2**32 if key >= 2**31 else key


def _admin_lock(cur: Cursor, projector: str) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (lock_key(projector),))


def _row(row: tuple[Any, ...] | None) -> Generation | None:
    if row is None:
        return None
    return Generation(str(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]))


_SELECT = "SELECT projector, generation, version, status, source FROM projection_generations"


def active(conn: psycopg.Connection[Any], projector: str) -> Generation | None:
    row = conn.execute(f"{_SELECT} WHERE projector = %s AND status = 'active'", (projector,))
    return _row(row.fetchone())


def live(conn: psycopg.Connection[Any], projector: str) -> list[Generation]:
    rows = conn.execute(
        f"{_SELECT} WHERE projector = %s AND NOT dropped ORDER BY generation", (projector,)
    ).fetchall()
    return [g for g in map(_row, rows) if g is not None]


def _schema(cur: Cursor, cls: type[Projector]) -> str:
    if cls.schema_sql is not None:
        return cls.schema_sql
    cur.execute(
        "SELECT tables, ddl FROM projection_schemas WHERE projector = %s AND version = %s",
        (cls.name, cls.version),
    )
    row = cur.fetchone()
    if row is None:
        raise SchemaMissing(
            f"no view schema for projector {cls.name} version {cls.version}: "
            "apply the migrations (cairn migrate)",
            {"projector": cls.name, "version": cls.version},
        )
    if sorted(row[0]) != sorted(cls.tables):
        raise SchemaMissing(
            f"the migration of {cls.name} v{cls.version} creates {row[0]}, "
            f"the projector declares {list(cls.tables)}",
            {"projector": cls.name},
        )
    return str(row[1])


def _secure(cur: Cursor, table: str) -> None:
    """Row-level security on one view table; refused without a uuid tenant_id column."""
    cur.execute(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s AND column_name = 'tenant_id'",
        (table,),
    )
    found = cur.fetchone()
    if found is None or found[0] != "uuid":
        raise SchemaMissing(f"view table {table} needs a tenant_id uuid column", {})
    ident = sql.Identifier(table)
    cur.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(ident))
    cur.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(ident))
    for template, suffix in ((_TENANT_POLICY, "tenant_rows"), (_OWNER_POLICY, "projector")):
        policy = sql.Identifier(f"{table}_{suffix}")
        cur.execute(sql.SQL(template).format(policy=policy, table=ident))
    cur.execute(sql.SQL("GRANT SELECT ON {} TO cairn_app").format(ident))


def _create(cur: Cursor, cls: type[Projector], status: str, source: str) -> Generation:
    ddl = _schema(cur, cls)
    cur.execute(
        "SELECT coalesce(max(generation), 0) + 1 FROM projection_generations WHERE projector = %s",
        (cls.name,),
    )
    row = cur.fetchone()
    assert row is not None
    number = int(row[0])
    projector = cls(number)
    # As the owner role: it owns the tables, and FORCE RLS then applies to it too.
    cur.execute("SET LOCAL ROLE cairn_owner")
    cur.execute(projector.expand(ddl).encode())
    for table in cls.tables:
        _secure(cur, physical_table(table, number))
    cur.execute(
        "INSERT INTO projection_generations (projector, generation, version, status, source)"
        " VALUES (%s, %s, %s, %s, %s)",
        (cls.name, number, cls.version, status, source),
    )
    # Position 0: every batch then names the position it continues from (views.commit).
    cur.execute(
        "INSERT INTO projection_tracking (application_name, notification_id) VALUES (%s, 0)",
        (projector.tracking_name,),
    )
    cur.execute("RESET ROLE")
    logger.info("projector %s: created generation %d (version %d)", cls.name, number, cls.version)
    return Generation(cls.name, number, cls.version, status, source)


def _point_views(cur: Cursor, cls: type[Projector], number: int) -> None:
    cur.execute("SET LOCAL ROLE cairn_owner")
    for table in cls.tables:
        view, target = sql.Identifier(table), sql.Identifier(physical_table(table, number))
        # DROP + CREATE, not CREATE OR REPLACE: a new version may have other columns.
        cur.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(view))
        cur.execute(
            sql.SQL("CREATE VIEW {} WITH (security_invoker = true) AS SELECT * FROM {}").format(
                view, target
            )
        )
        cur.execute(sql.SQL("GRANT SELECT ON {} TO cairn_app").format(view))
    cur.execute("RESET ROLE")


def ensure_active(conn: psycopg.Connection[Any], cls: type[Projector], source: str) -> Generation:
    """The active generation; the first one is created (empty, active at once) if none is."""
    found = active(conn, cls.name)
    if found is not None:
        return found
    with conn.transaction(), conn.cursor() as cur:
        _admin_lock(cur, cls.name)
        cur.execute(f"{_SELECT} WHERE projector = %s AND status = 'active'", (cls.name,))
        again = _row(cur.fetchone())
        if again is not None:
            return again
        created = _create(cur, cls, "active", source)
        cur.execute(
            "UPDATE projection_generations SET activated_at = now()"
            " WHERE projector = %s AND generation = %s",
            (cls.name, created.generation),
        )
        _point_views(cur, cls, created.generation)
        return created


def building(
    conn: psycopg.Connection[Any], cls: type[Projector], source: str, *, fresh: bool
) -> Generation:
    """A generation to build beside the active one: an unfinished one of this version is
    resumed (it is exact as far as it got), unless `fresh`; other unfinished ones are dropped."""
    with conn.transaction(), conn.cursor() as cur:
        _admin_lock(cur, cls.name)
        cur.execute(
            f"{_SELECT} WHERE projector = %s AND status = 'building' AND NOT dropped"
            " ORDER BY generation",
            (cls.name,),
        )
        resumable: Generation | None = None
        for gen in filter(None, map(_row, cur.fetchall())):
            same = gen.version == cls.version and gen.source == source
            if same and not fresh and resumable is None:
                resumable = gen
            elif not _drop(cur, cls.name, gen.generation, cls.tables):
                raise BuildInProgress(
                    f"generation {gen.generation} of {cls.name} is being built by another "
                    "process; wait for it or stop it first",
                    {"projector": cls.name, "generation": gen.generation},
                )
        return resumable or _create(cur, cls, "building", source)


def switch(conn: psycopg.Connection[Any], cls: type[Projector], number: int) -> None:
    """Make generation `number` the active one, atomically; then drop all but the previous."""
    with conn.transaction(), conn.cursor() as cur:
        _admin_lock(cur, cls.name)
        cur.execute(
            "UPDATE projection_generations SET status = 'retired', retired_at = now()"
            " WHERE projector = %s AND status = 'active' RETURNING generation",
            (cls.name,),
        )
        cur.execute(
            "UPDATE projection_generations SET status = 'active', activated_at = now()"
            " WHERE projector = %s AND generation = %s AND status = 'building'",
            (cls.name, number),
        )
        if cur.rowcount != 1:
            raise Conflict(f"generation {number} of {cls.name} is not being built", {})
        _point_views(cur, cls, number)
        # Heard by the worker following the old generation once this commits (decision 0054).
        cur.execute("SELECT pg_notify(%s, %s)", (SWITCH_CHANNEL, cls.name))
    logger.info("projector %s: generation %d is now active", cls.name, number)
    drop_retired(conn, cls, keep=1)


def drop_retired(conn: psycopg.Connection[Any], cls: type[Projector], keep: int) -> None:
    """Drop the tables of retired generations but the `keep` newest (kept for a rollback).
    A query still reading an old table holds its lock: give up quickly and try next time."""
    retired = [g for g in live(conn, cls.name) if g.status == "retired"]
    for gen in retired[: max(0, len(retired) - keep)]:
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SET LOCAL lock_timeout = '2s'")
                _drop(cur, cls.name, gen.generation, cls.tables)
        except psycopg.errors.LockNotAvailable:
            logger.info("projector %s: generation %d still in use", cls.name, gen.generation)


def _drop(cur: Cursor, projector: str, number: int, tables: tuple[str, ...]) -> bool:
    """Drop one generation's tables, unless a writer holds it (False)."""
    cur.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (lock_key(projector), number))
    row = cur.fetchone()
    if row is None or not row[0]:
        return False
    cur.execute("SET LOCAL ROLE cairn_owner")
    for table in tables:
        cur.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(physical_table(table, number)))
        )
    cur.execute(
        "UPDATE projection_generations SET dropped = true,"
        " status = CASE WHEN status = 'building' THEN 'retired' ELSE status END"
        " WHERE projector = %s AND generation = %s",
        (projector, number),
    )
    cur.execute("RESET ROLE")
    return True
