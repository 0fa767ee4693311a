"""Subjects, header names and the mapping between stored events and NATS messages.

Event subject: ``<prefix>.<tenant>.<aggregate type>.<aggregate id>`` (four tokens).
Internal subjects have three tokens, so ``<prefix>.*.*.*`` matches events only:
``<prefix>._commands.<command id>`` (idempotency markers) and
``<prefix>._tracking.<application>`` (tracking records).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final
from urllib.parse import quote, unquote
from uuid import UUID

from eventsourcing.persistence import DataError, Notification, StoredEvent

from domain.event_context import EventContext

# JetStream headers.
MSG_ID: Final = "Nats-Msg-Id"
EXPECTED_LAST_SUBJECT_SEQ: Final = "Nats-Expected-Last-Subject-Sequence"
EXPECTED_LAST_SUBJECT_SEQ_SUBJECT: Final = "Nats-Expected-Last-Subject-Sequence-Subject"
BATCH_ID: Final = "Nats-Batch-Id"
BATCH_SEQ: Final = "Nats-Batch-Sequence"
BATCH_COMMIT: Final = "Nats-Batch-Commit"
STATUS: Final = "Status"
# Headers of direct get replies.
NATS_SUBJECT: Final = "Nats-Subject"
NATS_SEQUENCE: Final = "Nats-Sequence"
NATS_NUM_PENDING: Final = "Nats-Num-Pending"

# Cairn headers on every event message.
TOPIC: Final = "Cairn-Topic"
VERSION: Final = "Cairn-Originator-Version"
ID_TYPE: Final = "Cairn-Originator-Id-Type"  # "str" for string ids; absent for UUIDs
TENANT: Final = "Cairn-Tenant"
ACTOR: Final = "Cairn-Actor"
DEVICE: Final = "Cairn-Device"
CORRELATION_ID: Final = "Cairn-Correlation-Id"
CAUSATION_ID: Final = "Cairn-Causation-Id"
COMMAND_ID: Final = "Cairn-Command-Id"
# On idempotency markers: how many events the command recorded (they follow the marker).
EVENT_COUNT: Final = "Cairn-Event-Count"
# On tracking records: the upstream notification id.
NOTIFICATION_ID: Final = "Cairn-Notification-Id"
# On snapshots: the events-stream sequence of the snapshot's version, when known.
EVENT_SEQUENCE: Final = "Cairn-Event-Sequence"
# On aggregate records (``locator``): ``<tenant>.<aggregate type>`` of the aggregate's subject,
# or ``*`` when its events are under several (written before records existed).
AGGREGATE_SUBJECT: Final = "Cairn-Aggregate-Subject"
SEVERAL_SUBJECTS: Final = "*"

COMMANDS: Final = "_commands"
TRACKING: Final = "_tracking"

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_SAFE_CHARS: Final = "-_"  # quote() keeps letters and digits, and these


def encode_token(value: str) -> str:
    """Encode any string as one subject token, reversibly (``%XX`` for other bytes)."""
    if not value:
        raise DataError("an empty string cannot be used as an identifier")
    if _TOKEN.fullmatch(value):
        return value
    encoded = quote(value, safe=_SAFE_CHARS)
    return encoded.replace(".", "%2E").replace("~", "%7E")


def decode_token(token: str) -> str:
    return unquote(token) if "%" in token else token


def id_token(originator_id: UUID | str) -> str:
    return str(originator_id) if isinstance(originator_id, UUID) else encode_token(originator_id)


def decode_id(token: str, id_type: str | None) -> UUID | str:
    return decode_token(token) if id_type == "str" else UUID(token)


@lru_cache(maxsize=4096)
def type_token(topic: str) -> str:
    """Aggregate type from an event topic ``module:Aggregate.Event`` -> ``Aggregate``."""
    qualname = topic.rpartition(":")[2]
    owner = qualname.rpartition(".")[0]
    return _UNSAFE.sub("_", owner)[:100] or "_"


def tenant_token(tenant: str) -> str:
    if not _TOKEN.fullmatch(tenant):
        raise DataError(f"tenant {tenant!r} is not a valid subject token ([A-Za-z0-9_-]{{1,200}})")
    return tenant


def _check_header_value(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise DataError(f"{name} must not contain line breaks: {value!r}")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate (JSON can carry one): not UTF-8
            raise DataError(f"{name} is not valid UTF-8 text: {value!r}") from None
    return value


def context_headers(context: EventContext) -> dict[str, str]:
    """The metadata headers of every event recorded under the given context."""
    headers = {
        TENANT: context.tenant,
        ACTOR: _check_header_value(ACTOR, context.actor),
    }
    optional = (
        (DEVICE, context.device),
        (CORRELATION_ID, context.correlation_id),
        (CAUSATION_ID, context.causation_id),
        (COMMAND_ID, context.command_id),
    )
    for name, value in optional:
        if value is not None:
            headers[name] = _check_header_value(name, value)
    return headers


def header_line(name: str, value: str) -> bytes:
    """One encoded header line ``Name: value\\r\\n`` (value stripped, as nats-py does)."""
    return f"{name}: {_check_header_value(name, value).strip()}\r\n".encode()


def context_lines(context: EventContext) -> bytes:
    """The encoded metadata header lines of every message recorded under the given context."""
    return b"".join(header_line(name, value) for name, value in context_headers(context).items())


@lru_cache(maxsize=4096)
def topic_line(topic: str) -> bytes:
    """The encoded ``Cairn-Topic`` line of an event topic (validated once per topic)."""
    return header_line(TOPIC, topic)


VERSION_LINE: Final = VERSION.encode() + b": %d\r\n"
STR_ID_LINE: Final = ID_TYPE.encode() + b": str\r\n"


def event_headers(event: StoredEvent, base: Mapping[str, str]) -> dict[str, str]:
    headers = dict(base)
    headers[TOPIC] = _check_header_value(TOPIC, event.topic)
    headers[VERSION] = str(event.originator_version)
    if not isinstance(event.originator_id, UUID):
        headers[ID_TYPE] = "str"
    return headers


def stored_event(headers: Mapping[str, str], data: bytes, originator_id: UUID | str) -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id,
        originator_version=int(headers[VERSION]),
        topic=headers[TOPIC],
        state=data,
    )


def notification(headers: Mapping[str, str], data: bytes, subject: str, seq: int) -> Notification:
    return Notification(
        id=seq,
        originator_id=decode_id(subject.rpartition(".")[2], headers.get(ID_TYPE)),
        originator_version=int(headers[VERSION]),
        topic=headers[TOPIC],
        state=data,
    )


def aggregate_type_filter(prefix: str, topic: str) -> str:
    """The subject filter of every event of one aggregate type (all tenants), given the topic
    of one of its events."""
    return f"{prefix}.*.{type_token(topic)}.*"


def event_origin(subject: str, headers: Mapping[str, str]) -> tuple[str, str, UUID | str]:
    """(tenant, topic, originator id) of an event message."""
    return (
        headers[TENANT],
        headers[TOPIC],
        decode_id(subject.rpartition(".")[2], headers.get(ID_TYPE)),
    )
