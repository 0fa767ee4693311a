"""No plaintext in the database, the logs, exceptions or reprs; tenants isolated by RLS."""

from __future__ import annotations

import base64
import importlib.util
import logging
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.vault import KeyRing, PostgresVault, VaultKeyUnknown
from adapters.vault.errors import VaultDecryptionFailed, VaultSecretNotFound
from domain.errors import DomainError
from tests.integration.adapters.vault.conftest import VaultFactory

pytestmark = pytest.mark.integration

SECRET_MARKER = b"sk-PLAINTEXT-MARKER-93e1"
PERSONAL_MARKER = "ada.PLAINTEXT.marker@example.com"
VAULT_TABLES = ("vault_data_keys", "vault_secrets", "vault_subject_keys", "vault_erased_subjects")


def _forms(marker: bytes) -> list[str]:
    """How a plaintext could show up in text: as is, as bytea hex, as base64."""
    return [
        marker.decode(),
        marker.hex(),
        base64.b64encode(marker).decode()[:16],
        base64.urlsafe_b64encode(marker).decode()[:16],
    ]


def _pg_dump(url: str) -> str | None:
    # find_spec locates the pip-installed PostgreSQL without importing (and configuring) it.
    spec = importlib.util.find_spec("pgserver")
    origin = Path(spec.origin) if spec and spec.origin else None
    bundled = origin.parent / "pginstall" / "bin" / "pg_dump" if origin else None
    binary = str(bundled) if bundled and bundled.exists() else shutil.which("pg_dump")
    if binary is None:
        return None
    done = subprocess.run(
        [binary, "--data-only", "--dbname", url], capture_output=True, text=True, check=True
    )
    return done.stdout


def _every_row_as_text(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return "\n".join(
            str(row)
            for table in VAULT_TABLES
            for row in conn.execute(f"SELECT t::text FROM {table} t").fetchall()
        )


def test_plaintext_appears_nowhere(
    vault: PostgresVault,
    make_vault: VaultFactory,
    keyring: KeyRing,
    migrated_database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    said: list[str] = []  # everything a caller, log or debugger could be shown

    def note_failure(error: DomainError) -> None:
        said.extend([str(error), repr(error), error.message, repr(error.details)])

    vault.put_secret("tenant-a", "openai", SECRET_MARKER)
    vault.put_secret("tenant-b", "openai", SECRET_MARKER)
    token = vault.seal_personal("tenant-a", "user-1", "email", PERSONAL_MARKER)
    said.extend([token, repr(vault), repr(vault.keyring), repr(vault.data_keys)])
    assert vault.get_secret("tenant-a", "openai") == SECRET_MARKER
    vault.rotate_data_key("tenant-a")
    vault = make_vault(keyring.with_new_key("v2"))  # the fleet gets v2, then rotates
    said.append(vault.rotate_kek().summary())
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        conn.execute("UPDATE vault_secrets SET record_id = 'moved' WHERE tenant_id = 'tenant-b'")
    failures: list[Callable[[], object]] = [
        lambda: vault.get_secret("tenant-b", "moved"),
        lambda: vault.get_secret("tenant-a", "missing"),
        lambda: make_vault(KeyRing.generate("v3")).get_secret("tenant-a", "openai"),
        lambda: make_vault(KeyRing.generate("v2")).get_secret("tenant-a", "openai"),
        lambda: vault.open_personal("tenant-a", token, "name"),
        lambda: vault.open_personal("tenant-b", token, "email"),
    ]
    expected = [
        VaultDecryptionFailed,
        VaultSecretNotFound,
        VaultKeyUnknown,
        VaultDecryptionFailed,
        VaultDecryptionFailed,
        VaultDecryptionFailed,
    ]
    for attempt, error_type in zip(failures, expected, strict=True):
        with pytest.raises(error_type) as caught:
            attempt()
        note_failure(caught.value)
    vault.erase_subject("tenant-a", "user-1")
    assert vault.open_personal("tenant-a", token, "email") == "[erased]"

    places = {
        "rows": _every_row_as_text(migrated_database_url),
        "logs": caplog.text,
        "errors and reprs": "\n".join(said),
        "dump": _pg_dump(migrated_database_url) or "",
    }
    dump = places["dump"]
    assert not dump or ("COPY public.vault_secrets" in dump and "\\x" in dump)  # bytea as hex
    assert "vault_secrets" not in places["rows"] and places["rows"]  # rows were there to scan
    for where, text in places.items():
        for form in _forms(SECRET_MARKER) + _forms(PERSONAL_MARKER.encode()):
            assert form not in text, f"a plaintext form {form[:6]}... appears in the {where}"
        # Key material neither: the KEK in its configured form.
        assert keyring.to_config().reveal_text().split(":")[1][:16] not in text


def test_row_level_security_isolates_tenants(
    vault: PostgresVault, migrated_database_url: str, unique_name: str
) -> None:
    vault.put_secret("tenant-a", "openai", b"a")
    vault.put_secret("tenant-b", "openai", b"b")
    vault.seal_personal("tenant-a", "user-1", "email", "a@example.com")
    vault.seal_personal("tenant-b", "user-1", "email", "b@example.com")
    vault.erase_subject("tenant-b", "user-1")
    role = f"{unique_name}_app"
    tables = ", ".join(VAULT_TABLES)

    def tenants_seen(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
        return {
            table: [
                str(tenant)
                for (tenant,) in conn.execute(
                    f"SELECT DISTINCT tenant_id FROM {table} ORDER BY 1"
                ).fetchall()
            ]
            for table in VAULT_TABLES
        }

    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        try:
            conn.execute(f'GRANT SELECT ON {tables} TO "{role}"')
            with conn.transaction():
                conn.execute(f'SET LOCAL ROLE "{role}"')
                unset = tenants_seen(conn)
                conn.execute("SELECT set_config('cairn.tenant_id', 'tenant-a', true)")
                tenant_a = tenants_seen(conn)
            with conn.transaction():
                conn.execute(f'SET LOCAL ROLE "{role}"')
                conn.execute("SELECT set_config('cairn.vault_rotation', 'on', true)")
                rotation = tenants_seen(conn)
        finally:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')
    assert unset == {table: [] for table in VAULT_TABLES}
    assert tenant_a == {
        "vault_data_keys": ["tenant-a"],
        "vault_secrets": ["tenant-a"],
        "vault_subject_keys": ["tenant-a"],
        "vault_erased_subjects": [],
    }
    # Rotation sees every tenant's wrapped keys, but no secret and no erasure record.
    assert rotation == {
        "vault_data_keys": ["tenant-a", "tenant-b"],
        "vault_secrets": [],
        "vault_subject_keys": ["tenant-a"],
        "vault_erased_subjects": [],
    }
