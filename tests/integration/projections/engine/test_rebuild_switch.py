"""A rebuild fills a new generation beside the active one and switches atomically: queries
running all the while always get the complete answer, the running worker follows the switch,
and only the newest retired generation is kept."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from projections.engine import operations
from projections.engine.event_source import EventSource
from projections.engine.projector_host import ProjectorHost
from projections.engine.view_reads import tenant_reader, wait_for
from projections.settings import ProjectionSettings
from projections.views.directory.queries import list_users
from projections.views.directory.security_events import SecurityEvents
from projections.views.directory.users import DirectoryUsers
from tests.integration.projections.support import Generator, admin, admin_reader

pytestmark = pytest.mark.integration


def _tables(conn: Any) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'directory_users%'")
    return {str(r[0]) for r in rows.fetchall()}


def test_rebuild_switches_while_queries_keep_answering(
    store: Application[uuid.UUID], settings: ProjectionSettings, source: EventSource
) -> None:
    generator = Generator(store)
    end = generator.write(3000)
    tenant = generator.tenants[0]
    expected_users = len(generator.users[tenant])
    pool: ConnectionPool[Any] = ConnectionPool(
        settings.database_url, min_size=2, max_size=4, open=True, kwargs={"autocommit": False}
    )
    answers: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def keep_querying() -> None:
        while not stop.is_set():
            try:
                with tenant_reader(pool, tenant) as cur:
                    row = cur.execute("SELECT count(*) AS n FROM directory_users").fetchone()
                answers.append(int(row["n"]) if row else -1)
                page = list_users(pool, admin_reader(tenant), limit=5)
                assert len(page.items) == 5
            except BaseException as error:
                failures.append(error)
                return

    with ProjectorHost(settings, [DirectoryUsers, SecurityEvents]) as host, pool:
        wait_for(pool, "directory_users", end, timeout=30)
        query_thread = threading.Thread(target=keep_querying)
        query_thread.start()
        try:
            for expected_generation in (2, 3):
                generation = operations.rebuild(settings, source, DirectoryUsers, threading.Event())
                assert generation == expected_generation
                deadline = time.monotonic() + 10
                while host.workers["directory_users"].generation != generation:
                    assert time.monotonic() < deadline, "the worker did not follow the switch"
                    time.sleep(0.05)
        finally:
            stop.set()
            query_thread.join()
        assert not failures, failures
        assert len(answers) > 20 and set(answers) == {expected_users}

        # The worker moved to generation 3 and keeps it up to date.
        later = generator.write(generator.written + 200)
        assert wait_for(pool, "directory_users", later, timeout=15) >= later
        # The worker's own counter moves just after its commit is visible to readers.
        deadline = time.monotonic() + 15
        while host.workers["directory_users"].position < later:
            assert time.monotonic() < deadline, "the worker's position stayed behind its view"
            time.sleep(0.05)
        with admin(settings.database_url) as conn:
            statuses = conn.execute(
                "SELECT generation, status, dropped FROM projection_generations"
                " WHERE projector = 'directory_users' ORDER BY generation"
            ).fetchall()
            assert statuses == [(1, "retired", True), (2, "retired", False), (3, "active", False)]
            assert _tables(conn) == {"directory_users__g2", "directory_users__g3"}
