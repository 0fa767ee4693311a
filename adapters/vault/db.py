"""Transactions of the vault: every statement runs with its tenant set for row-level security.

`set_config(..., true)` is transaction-local (SET LOCAL semantics), so a tenant never leaks to
the next user of a pooled connection. Each statement also names its tenant in its WHERE clause:
a superuser or table-owner connection bypasses RLS, and the WHERE clause still holds then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from adapters.vault.errors import VaultUnavailable


@contextmanager
def tenant_transaction(pool: ConnectionPool[Any], tenant: str) -> Iterator[psycopg.Connection[Any]]:
    try:
        with pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (tenant,))
            yield conn
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise VaultUnavailable("the vault is unavailable; retry shortly") from exc


@contextmanager
def rotation_transaction(pool: ConnectionPool[Any]) -> Iterator[psycopg.Connection[Any]]:
    """A transaction that sees the key rows of every tenant (the RLS policies of the two key
    tables admit `cairn.vault_rotation = 'on'`); used by KEK rotation only."""
    try:
        with pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('cairn.vault_rotation', 'on', true)")
            yield conn
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise VaultUnavailable("the vault is unavailable; retry shortly") from exc
