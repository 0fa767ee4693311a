"""Key rotation: re-wrap every stored key under the current KEK (`cairn vault rotate`).

Only the small wrapped keys change; no secret or personal field is re-encrypted, so old
ciphertexts stay readable throughout. Rows are re-wrapped in batches, each batch one
transaction that locks its rows (`FOR UPDATE SKIP LOCKED`): a concurrent reader sees either the
old wrapping or the new one, both of which unwrap while the old KEK is still configured; two
rotations running at once share the work instead of doing it twice; a run that stops half way
(crash, unknown KEK) has committed whole batches, and running it again finishes the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg_pool import ConnectionPool

from adapters.vault.cache import DataKeyCache, WrappedDataKey
from adapters.vault.db import rotation_transaction, tenant_transaction
from adapters.vault.keyring import KeyRing
from adapters.vault.keys import (
    StoredSubjectKey,
    add_data_key_version,
    unwrap_data_key,
    unwrap_subject_key,
    wrap_data_key,
    wrap_subject_key,
)

logger = logging.getLogger("cairn.vault")
BATCH_SIZE = 500


@dataclass(frozen=True)
class RotationReport:
    kek_version: str  # the KEK every rewrapped key is now wrapped by
    data_keys_rewrapped: int
    subject_keys_rewrapped: int
    data_keys_created: int = 0  # new data-key versions (`rotate(..., new_data_keys=True)`)
    # Keys per KEK version after the run. Only the current one listed means every older KEK
    # can be removed from CAIRN_VAULT_KEKS; anything else was written meanwhile by a process
    # whose configuration still names an older KEK current: update it and rotate again.
    keys_by_kek: Mapping[str, int] = field(default_factory=dict)

    @property
    def old_keks_in_use(self) -> tuple[str, ...]:
        return tuple(v for v, n in self.keys_by_kek.items() if v != self.kek_version and n)

    def summary(self) -> str:
        lines = [
            f"current KEK: {self.kek_version}",
            f"data keys re-wrapped: {self.data_keys_rewrapped}",
            f"subject keys re-wrapped: {self.subject_keys_rewrapped}",
            f"new data-key versions: {self.data_keys_created}",
        ]
        if self.old_keks_in_use:
            lines.append(f"still wrapped by older KEKs: {', '.join(self.old_keks_in_use)}")
        else:
            lines.append("no key is wrapped by an older KEK: older KEKs can be removed")
        return "\n".join(lines)


def _rewrap_data_keys(pool: ConnectionPool[Any], keyring: KeyRing, cache: DataKeyCache) -> int:
    done = 0
    while True:
        with rotation_transaction(pool) as conn:
            rows = conn.execute(
                "SELECT tenant_id, version, kek_version, wrapped_key FROM vault_data_keys"
                " WHERE kek_version <> %s ORDER BY tenant_id, version LIMIT %s"
                " FOR UPDATE SKIP LOCKED",
                (keyring.current_version, BATCH_SIZE),
            ).fetchall()
            if not rows:
                return done
            updates = []
            for tenant, version, kek_version, wrapped in rows:
                old = WrappedDataKey(tenant, version, kek_version, bytes(wrapped))
                new = wrap_data_key(keyring, tenant, version, unwrap_data_key(keyring, cache, old))
                updates.append((new.kek_version, new.wrapped_key, tenant, version, kek_version))
            with conn.cursor() as cursor:
                # kek_version in the WHERE clause: only the wrapping this batch read is replaced.
                cursor.executemany(
                    "UPDATE vault_data_keys SET kek_version = %s, wrapped_key = %s,"
                    " wrapped_at = now() WHERE tenant_id = %s AND version = %s"
                    " AND kek_version = %s",
                    updates,
                )
            done += len(rows)
            logger.info("re-wrapped %s data keys under KEK %s", done, keyring.current_version)


def _rewrap_subject_keys(pool: ConnectionPool[Any], keyring: KeyRing) -> int:
    done = 0
    while True:
        with rotation_transaction(pool) as conn:
            rows = conn.execute(
                "SELECT tenant_id, subject_id, key_id, kek_version, wrapped_key"
                " FROM vault_subject_keys WHERE kek_version <> %s"
                " ORDER BY tenant_id, subject_id LIMIT %s FOR UPDATE SKIP LOCKED",
                (keyring.current_version, BATCH_SIZE),
            ).fetchall()
            if not rows:
                return done
            updates = []
            for tenant, subject_id, key_id, kek_version, wrapped in rows:
                stored = StoredSubjectKey(key_id, kek_version, bytes(wrapped))
                key = unwrap_subject_key(keyring, tenant, subject_id, stored)
                new = wrap_subject_key(keyring, tenant, subject_id, key_id, key)
                updates.append(
                    (new.kek_version, new.wrapped_key, tenant, subject_id, key_id, kek_version)
                )
            with conn.cursor() as cursor:
                cursor.executemany(
                    "UPDATE vault_subject_keys SET kek_version = %s, wrapped_key = %s,"
                    " wrapped_at = now() WHERE tenant_id = %s AND subject_id = %s"
                    " AND key_id = %s AND kek_version = %s",
                    updates,
                )
            done += len(rows)
            logger.info("re-wrapped %s subject keys under KEK %s", done, keyring.current_version)


def keys_by_kek(pool: ConnectionPool[Any]) -> dict[str, int]:
    """How many data and subject keys each KEK version wraps."""
    with rotation_transaction(pool) as conn:
        rows = conn.execute(
            "SELECT kek_version, count(*) FROM ("
            " SELECT kek_version FROM vault_data_keys"
            " UNION ALL SELECT kek_version FROM vault_subject_keys) AS keys"
            " GROUP BY kek_version ORDER BY kek_version"
        ).fetchall()
    return {str(version): int(count) for version, count in rows}


def rewrap_all_keys(
    pool: ConnectionPool[Any], keyring: KeyRing, cache: DataKeyCache | None = None
) -> RotationReport:
    data_keys = _rewrap_data_keys(pool, keyring, cache or DataKeyCache(0))
    subject_keys = _rewrap_subject_keys(pool, keyring)
    return RotationReport(
        kek_version=keyring.current_version,
        data_keys_rewrapped=data_keys,
        subject_keys_rewrapped=subject_keys,
        keys_by_kek=keys_by_kek(pool),
    )


def rotate(database_url: str, keyring: KeyRing, *, new_data_keys: bool = False) -> RotationReport:
    """What `cairn vault rotate` runs: re-wrap every key under the current KEK and, with
    `new_data_keys`, also give every tenant a new data key for its future writes."""
    with ConnectionPool(database_url, min_size=1, max_size=2, timeout=10, open=True) as pool:
        created = 0
        if new_data_keys:
            with rotation_transaction(pool) as conn:
                tenants = [
                    str(tenant)
                    for (tenant,) in conn.execute(
                        "SELECT DISTINCT tenant_id FROM vault_data_keys ORDER BY tenant_id"
                    ).fetchall()
                ]
            for tenant in tenants:
                with tenant_transaction(pool, tenant) as conn:
                    add_data_key_version(conn, keyring, tenant)
                created += 1
        report = rewrap_all_keys(pool, keyring)
    report = replace(report, data_keys_created=created)
    logger.info("vault rotation done: %s", report.summary().replace("\n", "; "))
    return report
