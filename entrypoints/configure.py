"""The one settings object of a `cairn` command, and what the local stack takes from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from commands.settings import CairnSettings
from infra.stack.settings import StackSettings


def read_settings(
    data_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> CairnSettings:
    """The one settings object of a `cairn` command, read once at its start (from the process
    environment unless `env` is given); the servers' URLs may be missing: the local stack is
    then started, or looked for, in the data folder (`data_dir` over CAIRN_DATA_DIR)."""
    settings = CairnSettings.from_env(env, servers_required=False)
    return settings if data_dir is None else dataclasses.replace(settings, data_dir=data_dir)


def stack_settings(settings: CairnSettings) -> StackSettings:
    """What the local stack launcher takes from the one settings object: each server with a
    URL is used as it is, the others are started in the data folder."""
    return StackSettings(
        data_dir=settings.data_dir,
        nats_url=settings.nats_url or None,
        nats_monitor_url=settings.nats_monitor_url,
        database_url=settings.database_url or None,
        redis_url=settings.redis_url or None,
        nats_sync_interval=settings.nats_sync_interval,
        startup_timeout=settings.stack_startup_timeout_s,
    )
