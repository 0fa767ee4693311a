"""Subject tokens, aggregate types, metadata headers and the position index (no I/O)."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import DataError, StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from adapters.jetstream import headers as h
from adapters.jetstream.positions import PositionIndex
from domain.event_context import EventContext

pytestmark = pytest.mark.unit


@given(st.text(min_size=1))
def test_any_string_becomes_one_reversible_subject_token(value: str) -> None:
    token = h.encode_token(value)
    assert token
    assert not any(c in token for c in ".*> \t\r\n")
    assert token.isascii()
    assert h.decode_token(token) == value


def test_safe_strings_and_uuids_stay_readable() -> None:
    assert h.encode_token("user-42_a") == "user-42_a"
    originator_id = uuid.uuid4()
    assert h.id_token(originator_id) == str(originator_id)
    assert h.decode_id(str(originator_id), None) == originator_id
    assert h.decode_id("user-42_a", "str") == "user-42_a"


def test_empty_ids_are_refused() -> None:
    with pytest.raises(DataError):
        h.encode_token("")


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("domain.runs:Run.Started", "Run"),
        ("domain.runs:Outer.Inner.Created", "Outer_Inner"),
        ("eventsourcing.domain:Snapshot", "_"),
        ("topic1", "_"),
    ],
)
def test_aggregate_type_comes_from_the_event_topic(topic: str, expected: str) -> None:
    assert h.type_token(topic) == expected


@pytest.mark.parametrize("tenant", ["acme.corp", "a b", "", "x*", "é"])
def test_tenants_must_be_plain_tokens(tenant: str) -> None:
    with pytest.raises(DataError):
        h.tenant_token(tenant)


def test_context_headers_carry_the_metadata_that_is_set() -> None:
    context = EventContext(tenant="acme", actor="u1", correlation_id="c1")
    assert h.context_headers(context) == {
        h.TENANT: "acme",
        h.ACTOR: "u1",
        h.CORRELATION_ID: "c1",
    }
    with pytest.raises(DataError):
        h.context_headers(EventContext(actor="evil\r\nNats-Msg-Id: x"))


def test_event_headers_mark_string_ids() -> None:
    base = {h.TENANT: "acme"}
    by_uuid = h.event_headers(StoredEvent(uuid.uuid4(), 3, "m:A.B", b""), base)
    assert by_uuid == {h.TENANT: "acme", h.TOPIC: "m:A.B", h.VERSION: "3"}
    by_str = h.event_headers(StoredEvent("doc-1", 1, "m:A.B", b""), base)
    assert by_str[h.ID_TYPE] == "str"


def test_position_index_only_moves_forward_and_finds_starts() -> None:
    index = PositionIndex(max_entries=2)
    index.observe_last("a", 5, 50)
    index.observe_last("a", 4, 40)  # an older observation arriving late
    assert index.last("a") == (5, 50)
    index.add_anchor("a", 2, 20)
    assert index.start_after("a", 2) == 21
    assert index.start_after("a", 7) == 51
    assert index.start_after("a", 1) == 1
    assert index.seq_of("a", 2) == 20
    assert index.seq_of("a", 3) is None
    index.observe_last("b", 1, 1)
    index.observe_last("c", 1, 2)  # evicts the least recently used
    assert index.last("a") is None
