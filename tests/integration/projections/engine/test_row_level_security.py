"""Tenant isolation in PostgreSQL itself: raw SQL under the application role sees one tenant's
rows (through the views and the tables behind them), none without a tenant, and cannot write
or become the owner; every view table forces row-level security; nothing leaks to the next
transaction of a pooled connection."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.application import Application
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from projections.engine.projector_base import physical_table
from projections.engine.projector_host import ProjectorHost
from projections.engine.view_reads import current_position, wait_for
from projections.settings import ProjectionSettings
from projections.views.directory.security_events import SecurityEvents
from projections.views.directory.users import DirectoryUsers
from tests.integration.projections.support import Generator, admin

pytestmark = pytest.mark.integration

RELATIONS = ["directory_users", "security_events", "directory_users__g1", "security_events__g1"]


def _as_app(conn: psycopg.Connection[Any], tenant: str | None, query: str) -> list[Any]:
    with conn.transaction():
        conn.execute("SET LOCAL ROLE cairn_app")
        if tenant is not None:
            conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (tenant,))
        return list(conn.execute(query).fetchall())


@pytest.fixture
def built(store: Application[uuid.UUID], settings: ProjectionSettings) -> tuple[Generator, str]:
    generator = Generator(store)
    end = generator.write(600)
    with (
        ProjectorHost(settings, [DirectoryUsers, SecurityEvents]),
        ConnectionPool(settings.database_url, min_size=1, open=True) as pool,
    ):
        for name in ("directory_users", "security_events"):
            wait_for(pool, name, end, timeout=30)
    with admin(settings.database_url) as conn:
        assert current_position(conn, "security_events") == end
    return generator, settings.database_url


def test_the_application_role_sees_one_tenant_and_nothing_without_one(
    built: tuple[Generator, str],
) -> None:
    generator, url = built
    a, b = (str(t) for t in generator.tenants)
    with admin(url) as conn:
        for relation in RELATIONS:
            everything = conn.execute(f"SELECT tenant_id::text FROM {relation}").fetchall()
            assert {r[0] for r in everything} == {a, b}, relation
            for tenant, other in ((a, b), (b, a)):
                seen = _as_app(conn, tenant, f"SELECT tenant_id::text FROM {relation}")
                assert seen and {r[0] for r in seen} == {tenant}, relation
                assert len(seen) == sum(r[0] == tenant for r in everything)
                where = f"SELECT * FROM {relation} WHERE tenant_id = '{other}'"
                assert _as_app(conn, tenant, where) == []
            # No tenant, an empty one, an unknown one: nothing (fail closed).
            assert _as_app(conn, None, f"SELECT * FROM {relation}") == []
            assert _as_app(conn, "", f"SELECT * FROM {relation}") == []
            assert _as_app(conn, str(uuid.uuid4()), f"SELECT * FROM {relation}") == []
        # The tenant set in one transaction is gone in the next one on the same connection.
        assert _as_app(conn, a, "SELECT count(*) FROM directory_users")[0][0] > 0
        assert _as_app(conn, None, "SELECT count(*) FROM directory_users") == [(0,)]
        assert conn.execute("SELECT current_setting('cairn.tenant_id', true)").fetchone() in (
            ("",),
            (None,),
        )


@pytest.fixture
def analyst(built: tuple[Generator, str], unique_name: str) -> Iterator[str]:
    """A login of its own that was only granted cairn_app, as an analyst would get."""
    _, url = built
    role = f"analyst_{unique_name}"
    with admin(url) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT cairn_app TO "{role}"')
    yield make_conninfo(url, user=role)
    with admin(url) as conn:
        conn.execute(f'DROP ROLE "{role}"')


def test_an_analyst_login_with_the_application_role_sees_only_its_tenant(
    built: tuple[Generator, str], analyst: str
) -> None:
    generator, _ = built
    with psycopg.connect(analyst) as conn:
        for relation in RELATIONS:
            assert conn.execute(f"SELECT count(*) FROM {relation}").fetchone() == (0,)
            tenant = str(generator.tenants[1])
            conn.execute("SELECT set_config('cairn.tenant_id', %s, false)", (tenant,))
            seen = conn.execute(f"SELECT DISTINCT tenant_id::text FROM {relation}").fetchall()
            assert seen == [(tenant,)], relation
            conn.execute("RESET cairn.tenant_id")


REFUSED = [
    "DELETE FROM directory_users__g1",
    "UPDATE security_events__g1 SET kind = 'x'",
    "INSERT INTO security_events__g1 (tenant_id, position, event_id, kind, outcome,"
    " occurred_at, details) VALUES ('{a}', -1, gen_random_uuid(), 'k', 'o', now(), '{{}}')",
    "SET ROLE cairn_owner",
    "SELECT set_config('role', 'cairn_owner', true)",
    "SET ROLE postgres",
    "DROP TABLE directory_users__g1",
    "DROP VIEW directory_users",
    "SELECT count(*) FROM projection_dead_letters",
]


def test_the_application_role_cannot_write_or_become_the_owner(
    built: tuple[Generator, str], analyst: str
) -> None:
    generator, _ = built
    tenant = str(generator.tenants[0])
    for statement in REFUSED:
        with psycopg.connect(analyst) as conn:
            conn.execute("SELECT set_config('cairn.tenant_id', %s, true)", (tenant,))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement.format(a=tenant))


def test_every_view_table_forces_rls_and_every_view_is_security_invoker(
    built: tuple[Generator, str],
) -> None:
    _, url = built
    with admin(url) as conn:
        roles = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles"
            " WHERE rolname IN ('cairn_app', 'cairn_owner') ORDER BY 1"
        ).fetchall()
        assert roles == [
            ("cairn_app", False, False, False),
            ("cairn_owner", False, False, False),
        ]
        generations = conn.execute(
            "SELECT projector, generation FROM projection_generations WHERE NOT dropped"
        ).fetchall()
        assert generations
        for projector, generation in generations:
            cls = {c.name: c for c in (DirectoryUsers, SecurityEvents)}[projector]
            for table in cls.tables:
                row = conn.execute(
                    "SELECT c.relrowsecurity, c.relforcerowsecurity, r.rolname FROM pg_class c"
                    " JOIN pg_roles r ON r.oid = c.relowner WHERE c.relname = %s",
                    (physical_table(table, generation),),
                ).fetchone()
                assert row == (True, True, "cairn_owner")
                options = conn.execute(
                    "SELECT reloptions FROM pg_class WHERE relname = %s AND relkind = 'v'",
                    (table,),
                ).fetchone()
                assert options is not None and "security_invoker=true" in options[0]
