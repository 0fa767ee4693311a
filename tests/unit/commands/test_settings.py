"""Settings survive the trip through the environment that worker processes are started with."""

from __future__ import annotations

from pathlib import Path

import pytest

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
        }
    )
    again = CairnSettings.from_env(settings.as_env())
    assert {k: v for k, v in vars(again).items() if k != "env"} == {
        k: v for k, v in vars(settings).items() if k != "env"
    }
    assert (again.workers, again.worker_concurrency, again.worker_ack_wait_s) == (3, 4, 7.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [("CAIRN_WORKERS", "two"), ("CAIRN_WORKERS", "-1"), ("CAIRN_WORKER_CONCURRENCY", "0")],
)
def test_a_bad_worker_count_is_one_clear_error(name: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=name):
        CairnSettings.from_env({**BASE, name: value})
