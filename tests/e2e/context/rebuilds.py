"""Rebuilding the context view from position 1 and looking at every table, for the forgetting
and determinism tests."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import psycopg
from psycopg import sql

from commands.settings import CairnSettings
from entrypoints.projector_cli import projection_settings
from projections.engine import operations
from projections.engine.event_source import EventSource
from projections.engine.projector_base import physical_table
from projections.views.context.projector import Context


def rebuild(settings: CairnSettings) -> int:
    """Replay the whole store into a new generation of the context view and switch to it."""
    projections = projection_settings(settings)
    source = EventSource(projections.event_store_env)
    try:
        generation = operations.rebuild(projections, source, Context, threading.Event())
    finally:
        source.close()
    assert generation is not None
    return generation


def drop_generation(database_url: str, generation: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in Context.tables:
            ident = sql.Identifier(physical_table(table, generation))
            conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(ident))


def checksum(database_url: str, generation: int) -> dict[str, str]:
    """A digest of each table of one generation, rows in primary-key order."""
    found: dict[str, str] = {}
    with psycopg.connect(database_url) as conn:
        for table in Context.tables:
            ident = sql.Identifier(physical_table(table, generation))
            rows = conn.execute(
                sql.SQL("SELECT t::text FROM {} t ORDER BY 1").format(ident)
            ).fetchall()
            digest = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
            found[table] = digest
    return found


def tables_holding(database_url: str, text: str) -> list[str]:
    """Every table of the database with a row whose text form contains `text`."""
    holding: list[str] = []
    with psycopg.connect(database_url) as conn:
        tables: list[Any] = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("SELECT count(*) FROM {} t WHERE strpos(t::text, %s) > 0").format(
                sql.Identifier(table)
            )
            row = conn.execute(query, (text,)).fetchone()
            if row is not None and row[0]:
                holding.append(table)
    return holding


def active_generation(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT generation FROM projection_generations"
            " WHERE projector = 'context' AND status = 'active'"
        ).fetchone()
    assert row is not None
    return int(row[0])
