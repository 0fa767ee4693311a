"""Upstream MCP servers and their tool pins in PostgreSQL (migration 0086), per tenant under
row-level security (each statement also names its tenant)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from commands.ports.mcp_upstream import PinnedTool, UpstreamServer
from domain.errors import Unavailable


class PostgresUpstreamStore:
    """Implements `commands.ports.mcp_upstream.UpstreamStore`."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    @contextmanager
    def _tenant(self, tenant: str) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (tenant,))
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable("the MCP server registry is unavailable; retry shortly") from exc

    def add_server(self, tenant: str, server: UpstreamServer, now: datetime) -> None:
        with self._tenant(tenant) as conn:
            conn.execute(
                "INSERT INTO mcp_servers (tenant_id, server_id, user_id, name, url, auth,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    tenant,
                    server.server_id,
                    server.user_id,
                    server.name,
                    server.url,
                    server.auth,
                    now,
                ),
            )

    def get_server(self, tenant: str, server_id: str) -> UpstreamServer | None:
        with self._tenant(tenant) as conn:
            row = conn.execute(
                "SELECT server_id, user_id, name, url, auth FROM mcp_servers"
                " WHERE tenant_id = %s AND server_id = %s",
                (tenant, server_id),
            ).fetchone()
        return None if row is None else UpstreamServer(*row)

    def pins(self, tenant: str, server_id: str) -> dict[str, PinnedTool]:
        with self._tenant(tenant) as conn:
            rows = conn.execute(
                "SELECT server_id, name, approved_hash, listed_hash, description, input_schema,"
                " annotations FROM mcp_tools WHERE tenant_id = %s AND server_id = %s ORDER BY name",
                (tenant, server_id),
            ).fetchall()
        return {row[1]: PinnedTool(*row) for row in rows}

    def servers_of(self, tenant: str, user_id: str) -> list[UpstreamServer]:
        with self._tenant(tenant) as conn:
            rows = conn.execute(
                "SELECT server_id, user_id, name, url, auth FROM mcp_servers"
                " WHERE tenant_id = %s AND user_id = %s ORDER BY created_at, server_id",
                (tenant, user_id),
            ).fetchall()
        return [UpstreamServer(*row) for row in rows]

    def save_pins(self, tenant: str, pins: list[PinnedTool]) -> None:
        with self._tenant(tenant) as conn:
            for pin in pins:
                conn.execute(
                    "INSERT INTO mcp_tools (tenant_id, server_id, name, approved_hash,"
                    " listed_hash, description, input_schema, annotations)"
                    " VALUES (%s, %s, %s, NULL, %s, %s, %s, %s)"
                    " ON CONFLICT (tenant_id, server_id, name) DO UPDATE SET"
                    " listed_hash = EXCLUDED.listed_hash, description = EXCLUDED.description,"
                    " input_schema = EXCLUDED.input_schema, annotations = EXCLUDED.annotations",
                    (
                        tenant,
                        pin.server_id,
                        pin.name,
                        pin.listed_hash,
                        pin.description,
                        Jsonb(dict(pin.input_schema)),
                        Jsonb(dict(pin.annotations)),
                    ),
                )

    def approve(
        self,
        tenant: str,
        server_id: str,
        name: str,
        expected_hash: str,
        user_id: str,
        now: datetime,
    ) -> bool:
        with self._tenant(tenant) as conn:
            done = conn.execute(
                "UPDATE mcp_tools SET approved_hash = listed_hash, approved_by = %s,"
                " approved_at = %s WHERE tenant_id = %s AND server_id = %s AND name = %s"
                " AND listed_hash = %s",
                (user_id, now, tenant, server_id, name, expected_hash),
            )
        return done.rowcount == 1
