"""Pages of stored messages decoded into the library's notifications, for replays.

This runs for every event of a replay, so it is written out: the few headers it needs are
found with ``rfind`` (``replies``), subjects and topics seen last are remembered (a replay
meets them again and again), and each notification is made without the dataclass
constructor (see ``make_notification``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final
from uuid import UUID

from eventsourcing.persistence import Notification

from adapters.jetstream import headers as h
from adapters.jetstream import replies

# None: an internal record, not an event; an error: raised when the reader reaches it.
NotificationItem = tuple[int, Notification | Exception | None]
# A message delivered by a consumer: subject, stream sequence, header block, payload.
Delivery = tuple[bytes, int, bytes, bytes]

_CRLF: Final = b"\r\n"
_SUBJECT: Final = replies.header_key(h.NATS_SUBJECT)
_SEQUENCE: Final = replies.header_key(h.NATS_SEQUENCE)
_TOPIC: Final = replies.header_key(h.TOPIC)
_VERSION: Final = replies.header_key(h.VERSION)
_ID_TYPE: Final = replies.header_key(h.ID_TYPE)
_FIELDS: Final = ("originator_id", "originator_version", "topic", "state", "id")

# Events of one aggregate usually come close together in a replay: decoding each id once
# saves most of the cost of UUID() (UUIDs are immutable, so sharing one is safe).
_decode_id = lru_cache(maxsize=8192)(h.decode_id)


def _filled(originator_id: UUID | str, version: int, topic: str, state: bytes, seq: int) -> Any:
    """A Notification made by filling its __dict__ in field order: the same object as its
    constructor makes (a frozen dataclass, which sets each field with object.__setattr__),
    in a third of the time."""
    made = object.__new__(Notification)
    made.__dict__.update(
        originator_id=originator_id, originator_version=version, topic=topic, state=state, id=seq
    )
    return made


def _constructed(
    originator_id: UUID | str, version: int, topic: str, state: bytes, seq: int
) -> Notification:
    return Notification(
        id=seq, originator_id=originator_id, originator_version=version, topic=topic, state=state
    )


def _pick_maker() -> Callable[[UUID | str, int, str, bytes, int], Notification]:
    """The fast way only while Notification is still the plain frozen dataclass it relies on
    (checked once here, and in tests/unit/adapters/jetstream/test_replies.py)."""
    plain = (
        tuple(field.name for field in dataclasses.fields(Notification)) == _FIELDS
        and not hasattr(Notification, "__post_init__")
        and not hasattr(Notification, "__slots__")
    )
    if plain:
        sample = ("x", 1, "t", b"s", 2)
        fast, slow = _filled(*sample), _constructed(*sample)
        if fast == slow and vars(fast) == vars(slow) and list(vars(fast)) == list(_FIELDS):
            return _filled
    return _constructed


make_notification = _pick_maker()


class Notifications:
    """Decodes pages into ``(sequence, notification)`` per message: None for an internal
    record (its subject has fewer tokens than an event's), an error for a message that
    cannot be decoded (raised by the reader if it gets that far)."""

    CACHE = 4096

    def __init__(self, event_dots: int) -> None:
        self.event_dots = event_dots
        self._tokens: dict[bytes, str] = {}  # raw subject -> its id token, "" if no event
        self._topics: dict[bytes, str] = {}

    def __call__(self, messages: list[replies.RawMsg]) -> list[NotificationItem]:
        """A page of a batched direct get: subject and sequence are headers."""
        items: list[NotificationItem] = []
        add = items.append
        for block, data in messages:
            seq = replies.number(block, _SEQUENCE)
            try:
                start = block.rfind(_SUBJECT)
                if start < 0:
                    raise KeyError(h.NATS_SUBJECT)
                start += len(_SUBJECT)
                subject = block[start : block.find(_CRLF, start)]
                add((seq, self.decode(block, data, seq, subject)))
            except (KeyError, ValueError) as error:
                add((seq, error))
        return items

    def deliveries(self, messages: list[Delivery]) -> list[NotificationItem]:
        """A page of a consumer: subject and sequence come with each delivery."""
        items: list[NotificationItem] = []
        add = items.append
        for subject, seq, block, data in messages:
            try:
                add((seq, self.decode(block, data, seq, subject)))
            except (KeyError, ValueError) as error:
                add((seq, error))
        return items

    def decode(self, block: bytes, data: bytes, seq: int, subject: bytes) -> Notification | None:
        token = self._tokens.get(subject)
        if token is None:
            token = self._token(subject)
        if not token:
            return None
        rfind, find = block.rfind, block.find
        start = rfind(_TOPIC)
        if start < 0:
            raise KeyError(h.TOPIC)
        start += len(_TOPIC)
        raw = block[start : find(_CRLF, start)]
        topic = self._topics.get(raw)
        if topic is None:
            topic = self._topic(raw)
        start = rfind(_VERSION)
        if start < 0:
            raise KeyError(h.VERSION)
        start += len(_VERSION)
        version = int(block[start : find(_CRLF, start)])
        start = rfind(_ID_TYPE)
        id_type = None
        if start >= 0:
            start += len(_ID_TYPE)
            id_type = block[start : find(_CRLF, start)].strip().decode("utf-8", "replace")
        return make_notification(_decode_id(token, id_type), version, topic, data, seq)

    def _token(self, raw: bytes) -> str:
        subject = raw.strip().decode("utf-8", "replace")
        token = subject.rpartition(".")[2] if subject.count(".") == self.event_dots else ""
        if len(self._tokens) >= self.CACHE:
            self._tokens.clear()
        self._tokens[raw] = token
        return token

    def _topic(self, raw: bytes) -> str:
        topic = raw.strip().decode("utf-8", "replace")
        if len(self._topics) >= self.CACHE:
            self._topics.clear()
        self._topics[raw] = topic
        return topic
