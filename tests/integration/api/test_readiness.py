"""/readyz asks the real servers, and names the one that is down."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ServiceUrls
from infra.stack.launcher import LocalStack, StackEndpoints
from infra.stack.settings import StackSettings

pytestmark = pytest.mark.integration


def _urls(endpoints: StackEndpoints) -> ServiceUrls:
    return ServiceUrls(endpoints.nats_url, endpoints.database_url, endpoints.redis_url)


def test_ready_when_every_server_answers(stack: StackEndpoints) -> None:
    with TestClient(create_app(_urls(stack), with_services=False)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert set(checks) == {"nats", "postgres", "redis"}
    assert all(check["ok"] for check in checks.values())


@pytest.mark.long(11)
def test_killed_servers_are_named_with_503(scratch_dir: Path) -> None:
    launcher = LocalStack(StackSettings(data_dir=scratch_dir))
    endpoints = launcher.start()
    pids = {server.name: server.pid for server in endpoints.servers}
    try:
        with TestClient(create_app(_urls(endpoints), with_services=False)) as client:
            assert client.get("/readyz").status_code == 200
            down: list[str] = []
            for name in ("nats", "redis", "postgres"):
                pid = pids[name]
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                down = sorted([*down, name])
                time.sleep(0.2)
                response = client.get("/readyz")
                assert response.status_code == 503
                error = response.json()["error"]
                assert error["code"] == "not_ready"
                assert error["details"]["down"] == down
                for gone in down:
                    assert gone in error["message"]
                    assert error["details"]["checks"][gone]["ok"] is False
                    assert error["details"]["checks"][gone]["error"]
                assert response.headers["x-request-id"]
    finally:
        launcher.stop()
