from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from adapters.postgres.migrations import MigrationError, discover, migrate

pytestmark = pytest.mark.integration


def test_project_migrations_apply_once(fresh_database_url: str) -> None:
    first = migrate(fresh_database_url)
    assert first == [m.name for m in discover()]
    assert migrate(fresh_database_url) == []
    with psycopg.connect(fresh_database_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")
        assert row.fetchone() == (1,)


def test_a_failing_migration_changes_nothing(fresh_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE one (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE two (id int); SELECT no_such_fn();")
    with pytest.raises(psycopg.Error):
        migrate(fresh_database_url, tmp_path)
    with psycopg.connect(fresh_database_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables").fetchall()}
        versions = conn.execute("SELECT version FROM cairn_schema_migrations").fetchall()
    assert "one" in tables and "two" not in tables
    assert versions == [(1,)]


def test_an_edited_applied_migration_is_refused(fresh_database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "0001_t.sql"
    path.write_text("CREATE TABLE t (id int);")
    migrate(fresh_database_url, tmp_path)
    path.write_text("CREATE TABLE t (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(fresh_database_url, tmp_path)


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "create_things.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover(tmp_path)


def test_a_database_migrated_from_one_folder_needs_nothing_from_the_view_folders(
    fresh_database_url: str, tmp_path: Path
) -> None:
    # Before decision 0016 every migration lived in infra/migrations/.
    for migration in discover():
        (tmp_path / migration.name).write_text(migration.sql)
    assert migrate(fresh_database_url, tmp_path) == [m.name for m in discover()]
    assert migrate(fresh_database_url) == []
