"""The registry finds views by their folders: a new view is a new folder and nothing else."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from projections.engine import projector_registry

pytestmark = pytest.mark.unit

VIEW = """
from projections.engine.projector_base import Projector, Writes, handles


class {cls}(Projector):
    name = "{name}"
    tables = ("{name}",)

    @handles("a:A.Happened")
    def happened(self, event: object, position: int, writes: Writes) -> None:
        pass


PROJECTORS = ({cls},)
"""


@pytest.fixture
def views(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    package = f"extra_views_{request.node.name}"
    folder = tmp_path / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        yield folder
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m.split(".")[0] == package]:
            del sys.modules[module]


def _view(views: Path, folder: str, cls: str, name: str) -> None:
    (views / folder).mkdir()
    (views / folder / "__init__.py").write_text(VIEW.format(cls=cls, name=name))


def test_every_view_folder_s_projectors_are_found_in_folder_order(views: Path) -> None:
    _view(views, "notes", "Notes", "notes")
    _view(views, "calendar", "Calendar", "calendar_events")
    (views / "helpers.py").write_text("PROJECTORS = ('not a view folder',)")
    found = projector_registry.discover(views.name)
    assert list(found) == ["calendar_events", "notes"]
    assert found["notes"].__module__ == f"{views.name}.notes"


def test_two_projectors_with_one_name_are_refused(views: Path) -> None:
    _view(views, "one", "One", "same")
    _view(views, "two", "Two", "same")
    with pytest.raises(ValueError, match="'same'"):
        projector_registry.discover(views.name)


def test_the_project_s_views_are_those_of_projections_views() -> None:
    assert list(projector_registry.PROJECTORS) == [
        "calendar",
        "context",
        "directory_users",
        "security_events",
        "runs",
    ]
    assert all(
        cls.__module__.startswith("projections.views.")
        for cls in projector_registry.PROJECTORS.values()
    )
