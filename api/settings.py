"""The URLs the API is wired to: from a started stack or from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import InvalidInput


@dataclass(frozen=True)
class ServiceUrls:
    nats_url: str
    database_url: str
    redis_url: str
    nats_monitor_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceUrls:
        env = os.environ if env is None else env
        names = ("CAIRN_NATS_URL", "CAIRN_DATABASE_URL", "CAIRN_REDIS_URL")
        missing = [name for name in names if not env.get(name)]
        if missing:
            raise InvalidInput(
                f"missing configuration: {', '.join(missing)} (or start Cairn with `cairn up`)"
            )
        return cls(
            nats_url=env["CAIRN_NATS_URL"],
            database_url=env["CAIRN_DATABASE_URL"],
            redis_url=env["CAIRN_REDIS_URL"],
            nats_monitor_url=env.get("CAIRN_NATS_MONITOR_URL") or None,
        )
