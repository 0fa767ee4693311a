"""The projectors' event log decodes exactly what the library's own mapper decodes."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Notification
from hypothesis import given
from hypothesis import strategies as st

from domain.identity.credential import SecurityEvent
from projections.engine.event_source import EventLog, _uuid_from_hex

pytestmark = pytest.mark.unit

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
details = st.recursive(
    st.none() | st.integers() | st.text(max_size=8) | st.uuids() | st.datetimes(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    kind=st.text(max_size=10),
    user=st.none() | st.uuids(),
    device=st.none() | st.text(max_size=10),
    facts=st.dictionaries(st.text(max_size=6), details | st.just(Decimal("1.25")), max_size=4),
)
def test_the_event_log_decodes_as_the_library_does(
    kind: str, user: uuid.UUID | None, device: str | None, facts: dict[str, Any]
) -> None:
    writer: Application[uuid.UUID] = Application(env=POPO)
    reader = EventLog(env=POPO)
    event = SecurityEvent(kind, uuid.uuid4(), user, device, "ok", facts).collect_events()[0]
    stored = writer.mapper.to_stored_event(event)
    notification = Notification(
        id=1,
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state,
    )
    ours, theirs = (
        reader.mapper.to_domain_event(notification),
        writer.mapper.to_domain_event(notification),
    )
    assert vars(ours) == vars(theirs)
    transcoder = reader.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    assert transcoder.decoder.object_hook != transcoder._decode_obj  # the faster hook is used


@given(st.uuids())
def test_uuids_from_hex_are_real_uuids(value: uuid.UUID) -> None:
    made = _uuid_from_hex(value.hex)
    assert made == value and hash(made) == hash(value) and str(made) == str(value)
    assert made.is_safe == value.is_safe


@pytest.mark.parametrize("text", ["-" + "a" * 31, "a" * 31, "z" * 32, "_" * 32])
def test_what_is_not_32_hex_digits_is_refused_as_uuid_does(text: str) -> None:
    with pytest.raises(ValueError):
        _uuid_from_hex(text)
