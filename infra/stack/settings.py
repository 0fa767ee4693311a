"""Stack configuration from the environment: URLs of external servers or a local data folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

SYNC_INTERVAL_ALWAYS = "always"


@dataclass(frozen=True)
class StackSettings:
    """Where the stack lives. A URL that is set means: use that server, start nothing."""

    data_dir: Path
    nats_url: str | None = None
    nats_monitor_url: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    # "always" fsyncs every write before the ack; anything else can lose acknowledged events
    # on power loss (see FIELD-NOTES), so it is only for throwaway stacks.
    nats_sync_interval: str = SYNC_INTERVAL_ALWAYS
    startup_timeout: float = 30.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, data_dir: Path | None = None
    ) -> StackSettings:
        env = os.environ if env is None else env
        default_dir = Path(platformdirs.user_data_dir("cairn"))
        return cls(
            data_dir=data_dir or Path(env.get("CAIRN_DATA_DIR") or default_dir),
            nats_url=env.get("CAIRN_NATS_URL") or None,
            nats_monitor_url=env.get("CAIRN_NATS_MONITOR_URL") or None,
            database_url=env.get("CAIRN_DATABASE_URL") or None,
            redis_url=env.get("CAIRN_REDIS_URL") or None,
            nats_sync_interval=env.get("CAIRN_NATS_SYNC_INTERVAL") or SYNC_INTERVAL_ALWAYS,
            startup_timeout=float(env.get("CAIRN_STACK_STARTUP_TIMEOUT") or 30.0),
        )
