"""The deployment file describes what the design asks for; nothing in it can lose events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

INFRA = Path(__file__).resolve().parents[3] / "infra"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((INFRA / "compose.yaml").read_text())
    return loaded


def test_three_nats_nodes_fsync_always_and_route_to_each_other() -> None:
    services = _compose()["services"]
    nodes = [name for name in services if name.startswith("nats-")]
    assert len(nodes) == 3
    for index in (1, 2, 3):
        config = (INFRA / "nats" / f"cluster-n{index}.conf").read_text()
        assert "sync_interval: always" in config
        for other in (1, 2, 3):
            assert f"nats-route://nats-{other}:6222" in config


def test_api_and_projector_use_external_urls_and_r3() -> None:
    services = _compose()["services"]
    for name in ("api", "projector"):
        env = services[name]["environment"]
        assert env["CAIRN_NATS_REPLICAS"] == "3"
        assert env["CAIRN_NATS_URL"].count("nats://") == 3
        assert env["CAIRN_DATABASE_URL"].startswith("postgresql://")
        assert env["CAIRN_REDIS_URL"].startswith("redis://")
    assert "pgvector" in services["postgres"]["image"]
    assert "redis" in services
