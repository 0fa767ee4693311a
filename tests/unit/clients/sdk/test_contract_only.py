"""The SDK speaks only the HTTP contract: it imports none of the server's packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import clients.sdk

pytestmark = pytest.mark.unit

SERVER_PACKAGES = {"api", "commands", "domain", "adapters", "projections", "infra", "tests"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_sdk_module_imports_the_server() -> None:
    folder = Path(clients.sdk.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) >= 8
    for module in modules:
        assert imported_roots(module) & SERVER_PACKAGES == set(), module.name
