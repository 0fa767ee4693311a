"""Streams and servers that could lose acknowledged events are refused at start."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import nats
import pytest
from eventsourcing.utils import Environment

from adapters.jetstream import Factory, StreamConfigurationError

pytestmark = pytest.mark.integration

FactoryMaker = Callable[..., Factory]


async def _create_stream(url: str, config: dict[str, Any]) -> None:
    nc = await nats.connect(url)
    try:
        reply = await nc.request(
            f"$JS.API.STREAM.CREATE.{config['name']}", json.dumps(config).encode(), timeout=5
        )
        assert "error" not in json.loads(reply.data), reply.data
    finally:
        await nc.close()


def create_stream(url: str, name: str, **overrides: Any) -> None:
    config: dict[str, Any] = {
        "name": name,
        "subjects": [f"{name}.>"],
        "storage": "file",
        "discard": "new",
        "deny_delete": True,
        "deny_purge": True,
        "allow_atomic": True,
        "allow_direct": True,
        "duplicate_window": 120 * 10**9,
    }
    config.update(overrides)
    asyncio.run(_create_stream(url, config))


def test_a_new_stream_is_created_lossless(make_factory: FactoryMaker, unique_name: str) -> None:
    factory = make_factory()
    factory.application_recorder()
    config = factory.client.api(f"STREAM.INFO.{unique_name}")["config"]
    assert config["storage"] == "file"
    assert config["retention"] == "limits"
    assert config["discard"] == "new"
    assert (config["deny_delete"], config["deny_purge"]) == (True, True)
    assert config["allow_atomic"] is True
    assert config["max_msgs"] == config["max_bytes"] == config["max_msgs_per_subject"] == -1
    assert config["max_age"] == 0
    assert config["num_replicas"] == 1
    assert config["duplicate_window"] == 120 * 10**9
    assert config["subjects"] == [f"{unique_name}.>"]


def test_a_lossy_stream_is_refused(
    make_factory: FactoryMaker, nats_url: str, unique_name: str
) -> None:
    create_stream(nats_url, unique_name, discard="old", max_age=3600 * 10**9, deny_delete=False)
    factory = make_factory()
    with pytest.raises(StreamConfigurationError) as refused:
        factory.application_recorder()
    message = str(refused.value)
    assert "max_age" in message
    assert "discard is 'old'" in message
    assert "deny_delete is off" in message
    assert "NATS_UNSAFE_ACCEPT_EVENT_LOSS" in message


def test_a_lossy_stream_passes_only_with_the_loud_override(
    make_factory: FactoryMaker,
    nats_url: str,
    unique_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    create_stream(nats_url, unique_name, max_msgs_per_subject=10)
    factory = make_factory(NATS_UNSAFE_ACCEPT_EVENT_LOSS="yes")
    with caplog.at_level(logging.CRITICAL, logger="cairn.eventstore"):
        factory.application_recorder()
    assert any("ACKNOWLEDGED EVENTS CAN BE LOST" in r.message for r in caplog.records)


def test_a_stream_without_atomic_batches_is_refused_even_with_the_override(
    make_factory: FactoryMaker, nats_url: str, unique_name: str
) -> None:
    create_stream(nats_url, unique_name, allow_atomic=False)
    factory = make_factory(NATS_UNSAFE_ACCEPT_EVENT_LOSS="yes")
    with pytest.raises(StreamConfigurationError, match="allow_atomic is off"):
        factory.application_recorder()


def test_a_server_that_acks_before_fsync_is_refused(
    private_nats: Callable[..., Any],
    make_factory: FactoryMaker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = private_nats(sync_always=False)
    with pytest.raises(StreamConfigurationError, match="sync_interval: always"):
        make_factory(url=server.url, monitor_url=server.monitor_url)
    with caplog.at_level(logging.CRITICAL, logger="cairn.eventstore"):
        factory = make_factory(
            url=server.url, monitor_url=server.monitor_url, NATS_UNSAFE_ACCEPT_EVENT_LOSS="yes"
        )
    assert any("fsync" in r.message for r in caplog.records)
    factory.application_recorder()


@pytest.mark.usefixtures("nats_env_without_monitor")
def test_durability_that_cannot_be_verified_is_refused(nats_url: str, unique_name: str) -> None:
    env = {"NATS_URL": nats_url, "NATS_STREAM": unique_name, "NATS_SUBJECT_PREFIX": unique_name}
    with pytest.raises(StreamConfigurationError, match="cannot verify"):
        Factory(Environment(env=env))
    env["NATS_MONITOR_URL"] = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(StreamConfigurationError, match="cannot read"):
        Factory(Environment(env=env))
