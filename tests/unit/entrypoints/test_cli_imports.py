"""A person's `cairn` command does not import the operator commands' machinery (decision 0077):
the servers' clients, the projectors, the settings and the launcher are imported by the
commands that use them, not by the module that lists every command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# Each of these took 0.1-0.5 s of CPU to import when `cairn --help` imported it (0077).
OPERATORS_ONLY = [
    "nats",
    "psycopg",
    "redis",
    "commands.settings",
    "infra.stack.launcher",
    "projections.engine.projector_registry",
    "adapters.audit.export",
    "adapters.push.store",
]


def _imported_by(code: str) -> set[str]:
    shown = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", shown], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_listing_the_commands_imports_no_operator_machinery() -> None:
    imported = _imported_by("import entrypoints.cli")
    assert "clients.sdk" in imported  # the people's commands are there
    assert [name for name in OPERATORS_ONLY if name in imported] == []


def test_an_operator_command_still_finds_what_it_imports() -> None:
    imported = _imported_by(
        "from entrypoints.projector_cli import projector_groups\nprojector_groups(2)"
    )
    assert "projections.engine.projector_registry" in imported
