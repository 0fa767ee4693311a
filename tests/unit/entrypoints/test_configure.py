"""What the local stack and the projectors take from the one settings object."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from commands.settings import CairnSettings
from domain.errors import InvalidInput
from entrypoints.configure import read_settings, stack_settings
from entrypoints.projector_cli import projection_settings
from projections.engine import projector_registry

pytestmark = pytest.mark.unit

BASE = {
    "CAIRN_NATS_URL": "nats://127.0.0.1:4222",
    "CAIRN_DATABASE_URL": "postgresql://x",
    "CAIRN_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_defaults_start_everything_locally_with_fsync_always() -> None:
    settings = stack_settings(read_settings(Path("/tmp/x"), env={}))
    assert settings.nats_url is None and settings.database_url is None
    assert settings.redis_url is None
    assert settings.nats_sync_interval == "always"
    assert settings.data_dir == Path("/tmp/x")


def test_urls_from_environment_mean_external_servers() -> None:
    env = {
        "CAIRN_NATS_URL": "nats://a:4222",
        "CAIRN_DATABASE_URL": "postgresql://b/c",
        "CAIRN_REDIS_URL": "redis://d",
        "CAIRN_DATA_DIR": "/srv/cairn",
        "CAIRN_NATS_SYNC_INTERVAL": "10s",
    }
    settings = stack_settings(read_settings(env=env))
    assert settings.nats_url == "nats://a:4222"
    assert settings.data_dir == Path("/srv/cairn")
    assert settings.nats_sync_interval == "10s"


def test_settings_from_the_environment() -> None:
    env = {
        "CAIRN_PROJECTOR_DIRECTORY_USERS_ON_ERROR": "skip",
        "CAIRN_PROJECTOR_BATCH": "250",
    }
    settings = projection_settings(CairnSettings.from_env({**BASE, **env}))
    assert settings.batch_size == 250
    assert settings.on_error_for(projector_registry.get("directory_users")) == "skip"
    assert settings.on_error_for(projector_registry.get("security_events")) == "skip"  # its default
    with pytest.raises(InvalidInput, match="'stop' or 'skip'"):
        CairnSettings.from_env({**BASE, "CAIRN_PROJECTOR_X_ON_ERROR": "ignore"})
    with pytest.raises(InvalidInput, match="BATCH"):
        CairnSettings.from_env({**BASE, "CAIRN_PROJECTOR_BATCH": "0"})


def test_catch_up_processes_from_the_environment() -> None:
    default = projection_settings(CairnSettings.from_env(BASE))
    assert default.catch_up_processes == min(4, os.cpu_count() or 1)
    assert default.catch_up_after == 50_000
    env = {"CAIRN_PROJECTOR_PROCESSES": "0", "CAIRN_PROJECTOR_CATCH_UP_AFTER": "2000"}
    chosen = projection_settings(CairnSettings.from_env({**BASE, **env}))
    assert (chosen.catch_up_processes, chosen.catch_up_after) == (0, 2000)
    for key, value, message in [
        ("CAIRN_PROJECTOR_PROCESSES", "two", "whole number"),
        ("CAIRN_PROJECTOR_PROCESSES", "33", "between 0 and 32"),
        ("CAIRN_PROJECTOR_CATCH_UP_AFTER", "0", "between 1"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            CairnSettings.from_env({**BASE, key: value})


def test_the_event_store_the_projectors_read_is_the_settings_one() -> None:
    settings = CairnSettings.from_env({**BASE, "CAIRN_STREAM": "s1", "CAIRN_SUBJECT_PREFIX": "p"})
    projections = projection_settings(settings)
    assert projections.database_url == "postgresql://x"
    assert projections.source == "adapters.jetstream/s1/p"
