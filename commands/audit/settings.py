"""The audit log's settings (CAIRN_AUDIT_*; docs/configuration.md, docs/audit.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from commands import environment as e


@dataclass(frozen=True)
class AuditSettings:
    # The checkpoints' origin line (and the log key's name): one per log, never reused.
    origin: str = "cairn.local/audit"
    # A checkpoint at most this many seconds, or this many new messages, after the last one.
    checkpoint_every_s: float = 10.0
    checkpoint_every_events: int = 1000
    # Witnesses asked to cosign each checkpoint (their add-checkpoint URL prefixes).
    witness_urls: tuple[str, ...] = ()
    # The log's signer key file (made on first start); None: <data dir>/keys/audit-log.key.
    key_file: Path | None = None
    # Whether `cairn up` starts a checkpointer beside the projectors.
    checkpointer: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuditSettings:
        urls = env.get("CAIRN_AUDIT_WITNESS_URLS", "")
        key_file = env.get("CAIRN_AUDIT_KEY_FILE")
        return cls(
            origin=env.get("CAIRN_AUDIT_ORIGIN") or "cairn.local/audit",
            checkpoint_every_s=float(
                e.between(env, "CAIRN_AUDIT_CHECKPOINT_EVERY_S", 10, 1, 86_400)
            ),
            checkpoint_every_events=e.between(
                env, "CAIRN_AUDIT_CHECKPOINT_EVERY_EVENTS", 1000, 1, 10**9
            ),
            witness_urls=tuple(u.strip().rstrip("/") for u in urls.split(",") if u.strip()),
            key_file=Path(key_file) if key_file else None,
            checkpointer=env.get("CAIRN_AUDIT_CHECKPOINTER", "1") not in ("0", "false", "no"),
        )

    def key_path(self, data_dir: Path) -> Path:
        return self.key_file or data_dir.expanduser() / "keys" / "audit-log.key"
