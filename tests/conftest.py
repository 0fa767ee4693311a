"""One real stack (nats-server, PostgreSQL + pgvector, Redis) per test session.

Started by the project's own launcher on free loopback ports, or taken from CAIRN_*_URL.
Integration and e2e tests get it automatically (also unittest-style suites, which read the
exported CAIRN_* environment variables). Each test gets unique names so none sees another's
data.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from psycopg.conninfo import make_conninfo

from adapters.postgres.migrations import migrate
from entrypoints.configure import read_settings, stack_settings
from infra.stack.launcher import LocalStack, StackEndpoints
from tests.support.scheduling import expected_seconds, longest_files_first

_NEEDS_STACK = ("integration", "e2e", "benchmark")

# Property tests judge what the code does, not how fast this machine draws examples: with two
# test processes and other work on 2 cores, generation and single examples can be slow.
settings.register_profile(
    "cairn", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("cairn")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest test files first (tests/support/scheduling.py): with `--dist loadfile
    --no-loadscope-reorder` the two test processes then end together."""
    items[:] = longest_files_first(items, expected_seconds, lambda item: item.path.as_posix())


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEndpoints]:
    # Not under pytest's basetemp: pytest prunes old numbered temp folders, and a parallel
    # pytest run could delete this one while its servers still use it.
    data_dir = Path(tempfile.mkdtemp(prefix="cairn-test-stack-"))
    launcher = LocalStack(stack_settings(read_settings(data_dir)))
    try:
        endpoints = launcher.start()
    except BaseException:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    previous = {name: os.environ.get(name) for name in endpoints.as_env()}
    os.environ.update(endpoints.as_env())
    try:
        yield endpoints
    finally:
        launcher.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def _stack_for_integration_tests(request: pytest.FixtureRequest) -> None:
    if any(request.node.get_closest_marker(marker) for marker in _NEEDS_STACK):
        request.getfixturevalue("stack")


@pytest.fixture
def nats_url(stack: StackEndpoints) -> str:
    return stack.nats_url


@pytest.fixture
def nats_monitor_url(stack: StackEndpoints) -> str:
    if stack.nats_monitor_url is None:
        pytest.fail("CAIRN_NATS_MONITOR_URL must be set when CAIRN_NATS_URL is external")
    return stack.nats_monitor_url


@pytest.fixture
def database_url(stack: StackEndpoints) -> str:
    return stack.database_url


@pytest.fixture
def redis_url(stack: StackEndpoints) -> str:
    return stack.redis_url


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """Short, lowercase, alphanumeric, unique per test: for streams, schemas, key prefixes."""
    stem = re.sub(r"[^a-z0-9]", "", request.node.name.lower())[:16]
    return f"t{stem}{uuid.uuid4().hex[:10]}"


def _create_database(admin_url: str, name: str) -> str:
    """A new database with pgvector; its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin_url, dbname=name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return url


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_database_url(database_url: str, unique_name: str) -> Iterator[str]:
    """A new database (with pgvector) of its own for one test, dropped afterwards."""
    yield _create_database(database_url, unique_name)
    _drop_database(database_url, unique_name)


@pytest.fixture(scope="session")
def migrated_template(stack: StackEndpoints) -> Iterator[str]:
    """A database with pgvector and every migration applied, made once per test session: each
    test's migrated database is a copy of it (CREATE DATABASE ... TEMPLATE, ~0.12 s, against
    ~0.23 s for CREATE, pgvector and the migrations). Nobody connects to it once it is made (a
    copy needs that), so it refuses connections."""
    name = f"tmpl{uuid.uuid4().hex[:12]}"
    migrate(_create_database(stack.database_url, name))
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    yield name
    _drop_database(stack.database_url, name)


@pytest.fixture
def migrated_database_url(
    database_url: str, migrated_template: str, unique_name: str
) -> Iterator[str]:
    """A new database of its own for one test, with pgvector and every migration applied (a
    copy of the session's template; `migrate` on it applies nothing), dropped afterwards. A
    test of the migrations themselves takes `fresh_database_url`."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{unique_name}" TEMPLATE "{migrated_template}"')
    yield make_conninfo(database_url, dbname=unique_name)
    _drop_database(database_url, unique_name)


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A folder outside pytest's temp root, for servers that drop privileges (PostgreSQL as
    `pgserver`): a concurrent pytest run resets that root to mode 0700, which would lock the
    server out of its own data."""
    path = Path(tempfile.mkdtemp(prefix="cairn-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
