"""Create or verify the event streams, and check that the server really keeps what it acks.

Refused at start, with a message saying what to change:
- a server older than 2.12 (no atomic batch publish);
- a stream whose settings could drop events (memory storage, a retention other than limits,
  any max age/bytes/msgs limit, discard old, deletes or purges allowed, rollup or per-message
  TTL headers allowed, asynchronous persistence);
- a stream whose settings differ from ours in what the event store relies on (subjects, atomic
  batches, direct get, replicas, duplicate window);
- fewer than 3 replicas on a server that does not fsync before each ack
  (``jetstream.config.sync_always`` in the monitoring endpoint's ``/varz``), or whose
  monitoring endpoint cannot be read to check it.

``NATS_UNSAFE_ACCEPT_EVENT_LOSS=yes`` lets the loss risks (not the mismatches) through with a
critical log line.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from typing import Any

from adapters.jetstream.client import NatsClient
from adapters.jetstream.errors import JetStreamApiError, StreamConfigurationError
from adapters.jetstream.locator import STREAM_METADATA, records_prefix, records_stream
from adapters.jetstream.settings import NATS_UNSAFE_ACCEPT_EVENT_LOSS, JetStreamSettings

logger = logging.getLogger("cairn.eventstore")

ERR_STREAM_NOT_FOUND = 10059
MIN_SERVER = (2, 12)
_NANOS = 1_000_000_000


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subject_prefix: str
    # Given to the stream when it is created: an events stream's names the records stream
    # that holds a record for each of its aggregates (locator); ``backfill`` sets it on an
    # existing stream.
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def subjects(self) -> list[str]:
        return [f"{self.subject_prefix}.>"]


def signal_subject(stream: str) -> str:
    """Where writers announce each stored batch (see decision 0005): subscriptions wake up."""
    return f"_cairn_stored.{stream}"


def desired_config(spec: StreamSpec, settings: JetStreamSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": spec.name,
        "description": "Cairn event store (append-only)",
        "subjects": spec.subjects,
        "retention": "limits",
        "storage": "file",
        "discard": "new",
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "num_replicas": settings.replicas,
        "duplicate_window": int(settings.duplicate_window * _NANOS),
        "deny_delete": True,
        "deny_purge": True,
        "allow_rollup_hdrs": False,
        "allow_msg_ttl": False,
        "allow_atomic": True,
        "allow_direct": True,
    }
    if spec.metadata:
        config["metadata"] = dict(spec.metadata)
    return config


def ensure_event_streams(
    client: NatsClient, stream: str, prefix: str, settings: JetStreamSettings
) -> bool:
    """Create or verify an events stream and its aggregate records' stream (the records one
    first: a new events stream is made with records for all of its aggregates); returns
    whether the events stream's aggregates all have records (decision 0009).

    The events stream's metadata names the records stream by its creation time, so a records
    stream made again (the first one deleted) is never taken for the one holding the records:
    its aggregates would all look absent.
    """
    records = StreamSpec(records_stream(stream), records_prefix(prefix))
    _, records_made = ensure_stream(client, records, settings)
    spec = StreamSpec(stream, prefix, ((STREAM_METADATA, records_made),))
    config, _ = ensure_stream(client, spec, settings)
    marked = (config.get("metadata") or {}).get(STREAM_METADATA)
    if marked is None:
        return False  # from before records
    if marked != records_made:
        raise StreamConfigurationError(
            f"stream {records.name} (made {records_made}) is not the one holding the records "
            f"of the aggregates of {stream} (made {marked}): it was deleted and made again? "
            f"Restore it, or remove {STREAM_METADATA!r} from the metadata of {stream} and run "
            "the records backfill (python -m adapters.jetstream.backfill)"
        )
    return True


def _former_republish(spec: StreamSpec) -> dict[str, Any]:
    """What earlier versions configured for subscriptions' wake-ups (before decision 0005)."""
    return {
        "src": f"{spec.subject_prefix}.>",
        "dest": f"{signal_subject(spec.name)}.>",
        "headers_only": True,
    }


def loss_risks(config: dict[str, Any]) -> list[str]:
    """Settings of an existing stream that could drop acknowledged events."""
    risks = []
    if config.get("storage") != "file":
        risks.append(f"storage is {config.get('storage')!r}, not 'file'")
    if config.get("retention", "limits") != "limits":
        risks.append(f"retention is {config.get('retention')!r}, not 'limits'")
    for limit in ("max_msgs", "max_bytes", "max_age", "max_msgs_per_subject"):
        if int(config.get(limit, -1) or 0) > 0:
            risks.append(f"{limit} is {config[limit]} (must be unlimited)")
    if config.get("discard", "old") != "new":
        risks.append("discard is 'old' (must be 'new')")
    for flag in ("deny_delete", "deny_purge"):
        if not config.get(flag):
            risks.append(f"{flag} is off")
    for flag in ("allow_rollup_hdrs", "allow_msg_ttl"):
        if config.get(flag):
            risks.append(f"{flag} is on")
    if config.get("persist_mode") == "async":
        risks.append("persist_mode is 'async'")
    return risks


def mismatches(config: dict[str, Any], spec: StreamSpec, settings: JetStreamSettings) -> list[str]:
    """Differences the event store cannot work with (no override)."""
    problems = []
    subjects = config.get("subjects") or []
    if spec.subjects[0] not in subjects:
        problems.append(f"subjects are {subjects}, expected to include {spec.subjects[0]!r}")
    for flag in ("allow_atomic", "allow_direct"):
        if not config.get(flag):
            problems.append(f"{flag} is off")
    if config.get("sealed"):
        problems.append("the stream is sealed")
    if config.get("mirror"):
        problems.append("the stream is a mirror")
    if int(config.get("num_replicas", 1)) != settings.replicas:
        problems.append(f"num_replicas is {config.get('num_replicas')}, not {settings.replicas}")
    window = int(config.get("duplicate_window", 0))
    if window != int(settings.duplicate_window * _NANOS):
        problems.append(
            f"duplicate_window is {window / _NANOS:g}s, not {settings.duplicate_window:g}s"
        )
    return problems


def _refuse_or_warn(problems: list[str], what: str, settings: JetStreamSettings) -> None:
    if not problems:
        return
    text = f"{what}: " + "; ".join(problems)
    if settings.unsafe_accept_event_loss:
        logger.critical(
            "ACKNOWLEDGED EVENTS CAN BE LOST: %s (accepted because %s is set)",
            text,
            NATS_UNSAFE_ACCEPT_EVENT_LOSS,
        )
        return
    raise StreamConfigurationError(
        f"{text}. Such a setup can lose acknowledged events; fix it, or set "
        f"{NATS_UNSAFE_ACCEPT_EVENT_LOSS}=yes for a throwaway setup."
    )


def check_server(client: NatsClient, settings: JetStreamSettings) -> None:
    version = client.nc.connected_server_version
    if (version.major, version.minor) < MIN_SERVER:
        raise StreamConfigurationError(
            f"nats-server {version} is too old: atomic batch publish needs 2.12 or newer"
        )
    if settings.replicas >= 3:
        return
    problems: list[str] = []
    if not settings.monitor_url:
        problems.append(
            "cannot verify that nats-server fsyncs before acknowledging (sync_interval: always): "
            "no monitoring URL is set (NATS_MONITOR_URL / CAIRN_NATS_MONITOR_URL)"
        )
    else:
        sync_always = read_sync_always(settings.monitor_url)
        if sync_always is None:
            problems.append(
                f"cannot read jetstream.config.sync_always from {settings.monitor_url}/varz"
            )
        elif not sync_always:
            problems.append(
                "nats-server acknowledges before fsync (set `sync_interval: always` in its "
                "jetstream config, or use 3 replicas)"
            )
    _refuse_or_warn(
        problems, f"durability of {settings.url} with {settings.replicas} replica(s)", settings
    )


def read_sync_always(monitor_url: str, timeout: float = 2.0) -> bool | None:
    url = monitor_url.rstrip("/") + "/varz"
    if not url.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only
            varz = json.loads(response.read())
    except (OSError, ValueError):
        return None
    config = (varz.get("jetstream") or {}).get("config")
    if not isinstance(config, dict):
        return None
    return bool(config.get("sync_always", False))  # omitted by the server when false


def ensure_stream(
    client: NatsClient, spec: StreamSpec, settings: JetStreamSettings
) -> tuple[dict[str, Any], str]:
    """Create the stream if it is missing (and allowed), then verify its configuration;
    returns the configuration, and when the stream was made (the server's timestamp)."""
    desired = desired_config(spec, settings)
    info: dict[str, Any]
    try:
        info = client.api(f"STREAM.INFO.{spec.name}")
    except JetStreamApiError as e:
        if e.err_code != ERR_STREAM_NOT_FOUND:
            raise
        if not settings.create_stream:
            raise StreamConfigurationError(
                f"stream {spec.name} does not exist (and creating it is switched off)"
            ) from e
        try:
            info = client.api(f"STREAM.CREATE.{spec.name}", desired)
            logger.info("created JetStream stream %s for %s", spec.name, spec.subjects)
        except JetStreamApiError as create_error:
            if "already in use" not in create_error.description:
                raise StreamConfigurationError(
                    f"cannot create stream {spec.name}: {create_error.description}"
                ) from create_error
            info = client.api(f"STREAM.INFO.{spec.name}")  # created concurrently
    config: dict[str, Any] = info["config"]
    problems = mismatches(config, spec, settings)
    if problems:
        raise StreamConfigurationError(f"stream {spec.name} does not fit: " + "; ".join(problems))
    _refuse_or_warn(loss_risks(config), f"stream {spec.name}", settings)
    if config.get("republish") == _former_republish(spec):
        # The server republished every stored message for subscriptions, which cost it about
        # a third of its append throughput; writers now signal each stored batch instead.
        updated = {key: value for key, value in config.items() if key != "republish"}
        config = client.api(f"STREAM.UPDATE.{spec.name}", updated)["config"]
        logger.info("stream %s: dropped the per-message republish (decision 0005)", spec.name)
    return config, str(info["created"])
