from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import ServiceUrls
from domain.errors import InvalidInput
from infra.stack import StackSettings

pytestmark = pytest.mark.unit


def test_defaults_start_everything_locally_with_fsync_always() -> None:
    settings = StackSettings.from_env({}, data_dir=Path("/tmp/x"))
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
    settings = StackSettings.from_env(env)
    assert settings.nats_url == "nats://a:4222"
    assert settings.data_dir == Path("/srv/cairn")
    assert settings.nats_sync_interval == "10s"


def test_service_urls_name_what_is_missing() -> None:
    with pytest.raises(InvalidInput, match="CAIRN_REDIS_URL"):
        ServiceUrls.from_env({"CAIRN_NATS_URL": "x", "CAIRN_DATABASE_URL": "y"})
