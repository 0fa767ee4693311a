"""Settings survive the trip through the environment that worker processes are started with."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from commands.ports.push import PushSettings
from commands.settings import CairnSettings
from domain.errors import InvalidInput

pytestmark = pytest.mark.unit

BASE = {
    "CAIRN_NATS_URL": "nats://127.0.0.1:4222",
    "CAIRN_DATABASE_URL": "postgresql://cairn@127.0.0.1/cairn",
    "CAIRN_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_as_env_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    settings = CairnSettings.from_env(
        {
            **BASE,
            "CAIRN_DATA_DIR": str(tmp_path),
            "CAIRN_PROVIDER_URLS": "google=http://127.0.0.1:1,bank=http://127.0.0.1:2",
            "CAIRN_ORIGINS": "https://a.example,https://b.example",
            "CAIRN_WORKERS": "3",
            "CAIRN_WORKER_CONCURRENCY": "4",
            "CAIRN_WORKER_ACK_WAIT": "7",
            "CAIRN_LLM_MOCK_ANSWER_FILE": str(tmp_path / "plan.json"),
            "CAIRN_AUTH_CACHE_S": "0.5",
            "CAIRN_PUSH_BUFFER": "8",
            "CAIRN_PROJECTOR_BATCH": "250",
            "CAIRN_PROJECTOR_PROCESSES": "0",
            "CAIRN_PROJECTOR_RUNS_ON_ERROR": "skip",
            "CAIRN_NATS_SYNC_INTERVAL": "10s",
            "CAIRN_STACK_STARTUP_TIMEOUT": "12.5",
            "CAIRN_FAILPOINTS": "before-provider-call=2",
        }
    )
    again = CairnSettings.from_env(settings.as_env())
    assert {k: v for k, v in vars(again).items() if k != "env"} == {
        k: v for k, v in vars(settings).items() if k != "env"
    }
    assert (again.workers, again.worker_concurrency, again.worker_ack_wait_s) == (3, 4, 7.0)
    assert (again.push.buffer, again.projector_batch, again.projector_processes) == (8, 250, 0)
    assert again.projector_on_error == {"runs": "skip"}
    assert (again.nats_sync_interval, again.stack_startup_timeout_s) == ("10s", 12.5)
    assert again.failpoints == "before-provider-call=2"


def test_settings_set_in_code_survive_the_trip_too(tmp_path: Path) -> None:
    """A child process gets the values of the object it was started from, not only the
    environment that object was read from."""
    read = CairnSettings.from_env({**BASE, "CAIRN_DATA_DIR": str(tmp_path)})
    changed = dataclasses.replace(
        read,
        workers=5,
        push=PushSettings(heartbeat_s=2.5),
        projector_on_error={"directory_users": "skip"},
        failpoints="before-ack:PlanProposed=1",
    )
    again = CairnSettings.from_env(changed.as_env())
    assert {k: v for k, v in vars(again).items() if k != "env"} == {
        k: v for k, v in vars(changed).items() if k != "env"
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [("CAIRN_WORKERS", "two"), ("CAIRN_WORKERS", "-1"), ("CAIRN_WORKER_CONCURRENCY", "0")],
)
def test_a_bad_worker_count_is_one_clear_error(name: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=name):
        CairnSettings.from_env({**BASE, name: value})


def test_servers_missing_are_named() -> None:
    with pytest.raises(InvalidInput, match="CAIRN_REDIS_URL"):
        CairnSettings.from_env({"CAIRN_NATS_URL": "x", "CAIRN_DATABASE_URL": "y"})
    # `cairn up` starts its own servers then: their URLs are filled in later.
    unset = CairnSettings.from_env({}, servers_required=False)
    assert (unset.nats_url, unset.database_url, unset.redis_url) == ("", "", "")


def test_push_settings_from_the_environment() -> None:
    env = {**BASE, "CAIRN_PUSH_HEARTBEAT_S": "2.5", "CAIRN_PUSH_BUFFER": "8"}
    settings = CairnSettings.from_env(env).push
    assert settings.heartbeat_s == 2.5 and settings.buffer == 8
    assert settings.reauth_s == PushSettings().reauth_s
    with pytest.raises(InvalidInput, match="CAIRN_PUSH_BUFFER"):
        CairnSettings.from_env({**BASE, "CAIRN_PUSH_BUFFER": "lots"})
    with pytest.raises(InvalidInput, match="positive"):
        CairnSettings.from_env({**BASE, "CAIRN_PUSH_HEARTBEAT_S": "0"})


def test_every_variable_the_code_reads_is_in_the_configuration_table() -> None:
    root = Path(__file__).resolve().parents[3]
    table = (root / "docs" / "configuration.md").read_text()
    named: set[str] = set()
    for folder in ("domain", "commands", "projections", "adapters", "api", "entrypoints", "infra"):
        for source in (root / folder).rglob("*.py"):
            named.update(re.findall(r"\bCAIRN_[A-Z0-9_]*[A-Z0-9]\b", source.read_text()))
    assert {"CAIRN_NATS_URL", "CAIRN_PUSH_BUFFER", "CAIRN_PROJECTOR_BATCH"} <= named
    assert sorted(name for name in named if f"`{name}`" not in table) == []
