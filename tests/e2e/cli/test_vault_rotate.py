"""`cairn vault rotate`: after adding a new KEK, every key is re-wrapped by it and old
secrets stay readable; then the old KEK can go."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from adapters.vault import KeyRing, PostgresVault, new_kek_entry

pytestmark = pytest.mark.e2e


def _rotate(database_url: str, keks: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env.update({"CAIRN_DATABASE_URL": database_url, "CAIRN_VAULT_KEKS": keks})
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "vault", "rotate", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rotation_rewraps_and_old_secrets_stay_readable(
    migrated_database_url: str, tmp_path: Path
) -> None:
    v1 = new_kek_entry("v1")
    pool: ConnectionPool[Any]
    with ConnectionPool(migrated_database_url, min_size=1, max_size=2) as pool:
        before = PostgresVault(pool, KeyRing.parse(v1))
        before.put_secret("tenant-a", "openai-key", b"sk-old-secret")
        both = f"{v1},{new_kek_entry('v2')}"
        result = _rotate(migrated_database_url, both, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "older KEKs can be removed" in result.stderr
        only_new = PostgresVault(pool, KeyRing.parse(both).without("v1"))
        assert only_new.get_secret("tenant-a", "openai-key") == b"sk-old-secret"
        only_new.put_secret("tenant-a", "anthropic-key", b"sk-new-secret")
        assert only_new.get_secret("tenant-a", "anthropic-key") == b"sk-new-secret"
        assert "sk-old-secret" not in result.stdout + result.stderr


def test_bad_kek_configuration_is_one_clear_line(
    migrated_database_url: str, tmp_path: Path
) -> None:
    result = _rotate(migrated_database_url, "v1:not-base64!", tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "CAIRN_VAULT_KEKS" in lines[0]
    assert "not-base64" not in lines[0]
