"""api/ imports commands and projections, never an adapter: adapters reach it through the
ports and the API process's composition root (DESIGN.md's layout, decision 0020)."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[3] / "api"


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_no_api_module_imports_an_adapter() -> None:
    sources = sorted(API.rglob("*.py"))
    assert len(sources) > 10  # the walk found the API, not an empty folder
    adapter_imports = {
        str(path.relative_to(API.parent)): sorted(
            name
            for name in _imported_modules(path)
            if name == "adapters" or name.startswith("adapters.")
        )
        for path in sources
    }
    assert {path: names for path, names in adapter_imports.items() if names} == {}
