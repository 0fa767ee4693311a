"""Where migrations come from: infra/migrations and every view folder, one numbered sequence."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.postgres.migrations import MIGRATIONS_DIR, VIEWS_DIR, MigrationError, discover

pytestmark = pytest.mark.unit


def test_view_schemas_are_collected_from_their_view_folders_in_number_order() -> None:
    found = discover()
    versions = [m.version for m in found]
    assert versions == sorted(versions)
    names = {m.name for m in found}
    assert {"0040_projections.sql", "0048_projection_holds.sql"} <= names
    for view, schema in [
        ("directory", "0041_directory_views.sql"),
        ("runs", "0042_runs_view.sql"),
        ("runs", "0043_runs_view_detail.sql"),
    ]:
        assert (VIEWS_DIR / view / schema).is_file() and schema in names
        assert not (MIGRATIONS_DIR / schema).exists()


def test_one_number_in_two_folders_is_refused(tmp_path: Path) -> None:
    engine, view = tmp_path / "engine", tmp_path / "view"
    engine.mkdir()
    view.mkdir()
    (engine / "0007_tables.sql").write_text("SELECT 1;")
    (view / "0007_view.sql").write_text("SELECT 2;")
    (view / "0008_more.sql").write_text("SELECT 3;")
    with pytest.raises(MigrationError, match="share a number"):
        discover([engine, view])
    (view / "0007_view.sql").unlink()
    assert [m.name for m in discover([view, engine])] == ["0007_tables.sql", "0008_more.sql"]
