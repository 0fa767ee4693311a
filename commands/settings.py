"""Everything Cairn is configured with, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from domain.errors import InvalidInput


@dataclass(frozen=True)
class CairnSettings:
    nats_url: str
    database_url: str
    redis_url: str
    nats_monitor_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("cairn")))
    # Event store naming: one stream, subjects <prefix>.<tenant>.<aggregate>.<id>.
    stream: str = "cairn_events"
    subject_prefix: str = "cairn"
    nats_replicas: int = 1
    rp_id: str = "localhost"
    rp_name: str = "Cairn"
    origins: tuple[str, ...] = ("http://localhost:8000",)
    # How long a passkey login/registration ceremony may take, in seconds.
    passkey_ttl_s: int = 120
    # Where each provider's API lives, e.g. {"google": "https://..."} (CAIRN_PROVIDER_URLS as
    # "google=https://...,bank=https://...").
    provider_urls: Mapping[str, str] = field(default_factory=dict)
    # Threads advancing runs (planning, deciding, executing) in this process.
    run_workers: int = 16
    # A key prefix for Redis, so several Cairns (or tests) can share one server.
    redis_prefix: str = "cairn"
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CairnSettings:
        env = dict(os.environ if env is None else env)
        required = ("CAIRN_NATS_URL", "CAIRN_DATABASE_URL", "CAIRN_REDIS_URL")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise InvalidInput(
                f"missing configuration: {', '.join(missing)} (or start Cairn with `cairn up`)"
            )
        provider_urls = dict(
            item.split("=", 1)
            for item in env.get("CAIRN_PROVIDER_URLS", "").split(",")
            if "=" in item
        )
        origins = tuple(o.strip() for o in env.get("CAIRN_ORIGINS", "").split(",") if o.strip())
        return cls(
            nats_url=env["CAIRN_NATS_URL"],
            database_url=env["CAIRN_DATABASE_URL"],
            redis_url=env["CAIRN_REDIS_URL"],
            nats_monitor_url=env.get("CAIRN_NATS_MONITOR_URL") or None,
            data_dir=Path(env.get("CAIRN_DATA_DIR") or platformdirs.user_data_dir("cairn")),
            stream=env.get("CAIRN_STREAM", "cairn_events"),
            subject_prefix=env.get("CAIRN_SUBJECT_PREFIX", "cairn"),
            nats_replicas=int(env.get("CAIRN_NATS_REPLICAS", "1")),
            rp_id=env.get("CAIRN_RP_ID", "localhost"),
            rp_name=env.get("CAIRN_RP_NAME", "Cairn"),
            origins=origins or ("http://localhost:8000",),
            redis_prefix=env.get("CAIRN_REDIS_PREFIX", "cairn"),
            passkey_ttl_s=int(env.get("CAIRN_PASSKEY_TTL_S", "120")),
            run_workers=int(env.get("CAIRN_RUN_WORKERS", "16")),
            provider_urls={k.strip(): v.strip() for k, v in provider_urls.items()},
            env=env,
        )

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing library's settings selecting the JetStream persistence module."""
        return {
            "PERSISTENCE_MODULE": "adapters.jetstream",
            "NATS_URL": self.nats_url,
            "NATS_MONITOR_URL": self.nats_monitor_url or "",
            "NATS_STREAM": self.stream,
            "NATS_SUBJECT_PREFIX": self.subject_prefix,
            "NATS_REPLICAS": str(self.nats_replicas),
        }
