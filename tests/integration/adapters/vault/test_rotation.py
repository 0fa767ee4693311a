from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

import adapters.vault.rotation as vault_rotation
from adapters.vault import KeyRing, PostgresVault, VaultKeyUnknown, rotate
from tests.integration.adapters.vault.conftest import VaultFactory

pytestmark = pytest.mark.integration

TENANTS = ("tenant-a", "tenant-b", "tenant-c")


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def test_kek_rotation_rewraps_data_keys_and_keeps_every_secret_readable(
    make_vault: VaultFactory, keyring: KeyRing, migrated_database_url: str
) -> None:
    before = make_vault(keyring)
    for tenant in TENANTS:
        before.put_secret(tenant, "old", f"old secret of {tenant}".encode())
    token = before.seal_personal("tenant-a", "user-1", "email", "ada@example.com")
    secrets_sql = "SELECT tenant_id, record_id, ciphertext FROM vault_secrets ORDER BY 1, 2"
    ciphertexts = _rows(migrated_database_url, secrets_sql)

    rotated_ring = keyring.with_new_key("v2")
    without_v1 = rotated_ring.without("v1")
    # Removing v1 before rotating breaks reads: that is why rotation comes first.
    with pytest.raises(VaultKeyUnknown):
        make_vault(without_v1).get_secret("tenant-a", "old")

    after = make_vault(rotated_ring)  # the whole fleet now has v1 and v2, v2 current
    after.put_secret("tenant-a", "new", b"written while v1 still wrapped the data key")
    report = after.rotate_kek()
    assert (report.kek_version, report.data_keys_rewrapped, report.subject_keys_rewrapped) == (
        "v2",
        3,
        1,
    )
    assert report.keys_by_kek == {"v2": 4} and report.old_keks_in_use == ()
    assert "older KEKs can be removed" in report.summary()
    wrapped_by = _rows(migrated_database_url, "SELECT DISTINCT kek_version FROM vault_data_keys")
    assert wrapped_by == [("v2",)]
    assert _rows(migrated_database_url, "SELECT kek_version FROM vault_subject_keys") == [("v2",)]
    # Nothing was re-encrypted: the secret rows are byte for byte what they were.
    still = _rows(migrated_database_url, secrets_sql)
    assert [row for row in still if row[1] == "old"] == ciphertexts

    # Now v1 can go: a vault that never saw it reads everything, old and new.
    only_v2 = make_vault(without_v1)
    for tenant in TENANTS:
        assert only_v2.get_secret(tenant, "old") == f"old secret of {tenant}".encode()
    assert only_v2.get_secret("tenant-a", "new").startswith(b"written while")
    assert only_v2.open_personal("tenant-a", token, "email") == "ada@example.com"
    only_v2.put_secret("tenant-d", "fresh", b"first key of tenant-d")
    assert _rows(
        migrated_database_url,
        "SELECT kek_version FROM vault_data_keys WHERE tenant_id = 'tenant-d'",
    ) == [("v2",)]

    again = after.rotate_kek()  # safe to re-run: nothing left to do
    assert (again.data_keys_rewrapped, again.subject_keys_rewrapped) == (0, 0)


def test_rotation_stops_at_a_key_whose_kek_is_not_configured(
    make_vault: VaultFactory, keyring: KeyRing, migrated_database_url: str
) -> None:
    make_vault(keyring).put_secret("tenant-a", "old", b"old")
    skipped_ring = KeyRing.generate("v2")  # v1 forgotten in the configuration
    with pytest.raises(VaultKeyUnknown, match="'v1' is not configured"):
        make_vault(skipped_ring).rotate_kek()
    # Nothing was changed; with v1 back in the ring the rotation completes.
    assert _rows(migrated_database_url, "SELECT kek_version FROM vault_data_keys") == [("v1",)]
    complete = KeyRing([("v1", keyring.key("v1")), ("v2", skipped_ring.key("v2"))])
    assert make_vault(complete).rotate_kek().data_keys_rewrapped == 1
    assert make_vault(skipped_ring).get_secret("tenant-a", "old") == b"old"


def test_data_key_rotation_new_writes_use_the_new_version(
    vault: PostgresVault, make_vault: VaultFactory, keyring: KeyRing, migrated_database_url: str
) -> None:
    assert vault.put_secret("tenant-a", "before", b"one").data_key_version == 1
    assert vault.rotate_data_key("tenant-a") == 2
    assert vault.put_secret("tenant-a", "after", b"two").data_key_version == 2
    assert vault.rotate_data_key("tenant-a") == 3
    other_process = make_vault(keyring)
    assert other_process.get_secret("tenant-a", "before") == b"one"
    assert other_process.get_secret("tenant-a", "after") == b"two"
    assert other_process.put_secret("tenant-a", "before", b"one again").data_key_version == 3
    assert vault.rotate_data_key("tenant-new") == 1  # a tenant without a key gets version 1
    versions = _rows(
        migrated_database_url,
        "SELECT record_id, data_key_version FROM vault_secrets ORDER BY record_id",
    )
    assert versions == [("after", 2), ("before", 3)]


def test_concurrent_data_key_rotations_each_get_a_version(
    make_vault: VaultFactory, keyring: KeyRing, migrated_database_url: str
) -> None:
    vaults = [make_vault(keyring) for _ in range(6)]
    barrier = threading.Barrier(len(vaults))
    got: list[int] = []

    def work(vault: PostgresVault) -> None:
        barrier.wait()
        got.append(vault.rotate_data_key("tenant-a"))

    threads = [threading.Thread(target=work, args=(vault,)) for vault in vaults]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    assert vaults[0].put_secret("tenant-a", "r", b"x").data_key_version == 6


def test_readers_keep_reading_while_the_kek_rotates(
    make_vault: VaultFactory, keyring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vault_rotation, "BATCH_SIZE", 4)  # many small transactions to read between
    seed = make_vault(keyring)
    tenants = [f"tenant-{n}" for n in range(40)]
    for tenant in tenants:
        seed.put_secret(tenant, "api-key", tenant.encode())
    rotated_ring = keyring.with_new_key("v2")
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0]

    def read() -> None:
        reader = PostgresVault(seed.pool, rotated_ring, data_key_cache_size=0)  # always unwrap
        while not stop.is_set():
            for tenant in tenants:
                try:
                    assert reader.get_secret(tenant, "api-key") == tenant.encode()
                    reads[0] += 1
                except BaseException as exc:
                    errors.append(exc)
                    return

    def wait_for_reads(count: int) -> None:
        deadline = time.monotonic() + 10
        while reads[0] < count and not errors and time.monotonic() < deadline:
            time.sleep(0.005)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    wait_for_reads(len(tenants))  # readers are busy before the rotation starts
    reports: list[int] = []
    rotators = [
        threading.Thread(
            target=lambda: reports.append(make_vault(rotated_ring).rotate_kek().data_keys_rewrapped)
        )
        for _ in range(2)
    ]
    for thread in rotators:
        thread.start()
    for thread in rotators:
        thread.join()
    wait_for_reads(reads[0] + len(tenants))  # and still reading after it
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert sum(reports) == len(tenants)  # two rotators shared the work, none twice


def test_rotate_for_the_cli(
    vault: PostgresVault, keyring: KeyRing, migrated_database_url: str
) -> None:
    vault.put_secret("tenant-a", "r", b"a")
    vault.put_secret("tenant-b", "r", b"b")
    rotated_ring = keyring.with_new_key("v2")
    report = rotate(migrated_database_url, rotated_ring, new_data_keys=True)
    assert (report.data_keys_created, report.data_keys_rewrapped) == (2, 2)
    assert report.keys_by_kek == {"v2": 4}
    versions = _rows(
        migrated_database_url,
        "SELECT tenant_id, version, kek_version FROM vault_data_keys ORDER BY 1, 2",
    )
    assert versions == [
        ("tenant-a", 1, "v2"),
        ("tenant-a", 2, "v2"),
        ("tenant-b", 1, "v2"),
        ("tenant-b", 2, "v2"),
    ]
    reader = PostgresVault(vault.pool, rotated_ring.without("v1"))
    assert reader.get_secret("tenant-a", "r") == b"a"
    assert reader.put_secret("tenant-b", "new", b"n").data_key_version == 2
    assert rotate(migrated_database_url, rotated_ring).data_keys_rewrapped == 0


def test_a_stale_process_writing_under_an_old_kek_shows_and_the_next_run_fixes_it(
    make_vault: VaultFactory, keyring: KeyRing
) -> None:
    rotated_ring = keyring.with_new_key("v2")
    rotator = make_vault(rotated_ring)
    rotator.rotate_kek()
    # A process still configured with v1 current creates a key after the rotation.
    make_vault(keyring).put_secret("tenant-late", "r", b"x")
    assert vault_rotation.keys_by_kek(rotator.pool) == {"v1": 1}
    report = rotator.rotate_kek()
    assert report.data_keys_rewrapped == 1 and report.keys_by_kek == {"v2": 1}
