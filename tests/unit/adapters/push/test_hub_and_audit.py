"""Fan-out by tenant with a visibility hook, bounded buffers, and audit paging (no I/O)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.jetstream import headers as h
from adapters.push.audit import AuditFilter, audit_page
from adapters.push.events import PushEvent
from adapters.push.hub import Hub
from commands.ports.push import Viewer
from domain.errors import InvalidInput, NotFound
from domain.identity.capabilities import AUDIT_READ, TENANT_ADMIN, AuditForbidden
from tests.unit.adapters.push.fakes import PREFIX, FakeReader, message

pytestmark = pytest.mark.unit


def test_the_hub_offers_each_subscriber_only_its_tenants_events() -> None:
    hub = Hub(PREFIX)
    ada, bob = hub.register(Viewer("ada", "u1")), hub.register(Viewer("bob", "u2"))
    for seq, tenant in enumerate(["ada", "bob", "ada", "carol"], start=1):
        hub.dispatch(message(seq, tenant))
    assert [e.seq for e in ada.buffer] == [1, 3]
    assert [e.seq for e in bob.buffer] == [2]
    assert hub.position == 4
    hub.unregister(ada)
    hub.unregister(ada)  # idempotent
    assert hub.subscribers == 1


def test_a_visibility_hook_narrows_within_the_tenant() -> None:
    def own_actions_only(viewer: Viewer, event: PushEvent) -> bool:
        return event.tenant == viewer.tenant and event.header(h.ACTOR) == viewer.user_id

    hub = Hub(PREFIX, own_actions_only)
    ada = hub.register(Viewer("acme", "u1"))
    hub.dispatch(message(1, "acme", headers={h.ACTOR: "u1"}))
    hub.dispatch(message(2, "acme", headers={h.ACTOR: "u2"}))
    assert [e.seq for e in ada.buffer] == [1]


def test_a_full_buffer_marks_the_subscriber_and_drops_what_it_held() -> None:
    hub = Hub(PREFIX, capacity=2)
    slow, fast = hub.register(Viewer("ada", "u1")), hub.register(Viewer("ada", "u2"))
    for seq in range(1, 4):
        hub.dispatch(message(seq, "ada"))
        fast.buffer.clear()  # this one keeps up
    assert slow.overflowed and not slow.buffer
    assert not fast.overflowed
    hub.dispatch(message(4, "ada"))
    assert not slow.buffer and [e.seq for e in fast.buffer] == [4]


def test_the_hub_refuses_more_subscribers_than_configured() -> None:
    hub = Hub(PREFIX, max_subscribers=1)
    hub.register(Viewer("ada", "u1"))
    with pytest.raises(OverflowError):
        hub.register(Viewer("ada", "u2"))


def _reader() -> FakeReader:
    reader = FakeReader(page_size=3)
    for seq in range(1, 21):
        tenant = "ada" if seq % 4 else "bob"
        actor = "robot" if seq % 3 == 0 else "person"
        reader.append(message(seq, tenant, f"agg{seq % 5}", headers={h.ACTOR: actor}))
    return reader


def _page(reader: FakeReader, flt: AuditFilter, **kw: Any) -> tuple[list[int], int | None]:
    page = asyncio.run(audit_page(reader, "ada", flt, capabilities=[AUDIT_READ], **kw))
    return [e.seq for e in page.events], page.next_after


@pytest.mark.parametrize(
    ("held", "asked", "refused"),
    [
        ([], None, True),
        (["runs.read"], None, True),
        ([AUDIT_READ], None, False),
        ([TENANT_ADMIN], None, False),
        ([AUDIT_READ], "ada", False),
        ([TENANT_ADMIN], "bob", True),
    ],
)
def test_the_audit_query_checks_who_reads_it(
    held: list[str], asked: str | None, refused: bool
) -> None:
    reading = audit_page(_reader(), "ada", AuditFilter(), capabilities=held, asked_tenant=asked)
    if refused:
        with pytest.raises(AuditForbidden):
            asyncio.run(reading)
    else:
        assert asyncio.run(reading).events


def test_audit_pages_follow_positions_and_never_cross_tenants() -> None:
    reader = _reader()
    robots = [s for s in range(1, 21) if s % 4 and s % 3 == 0]
    assert _page(reader, AuditFilter(actor="robot"), limit=2) == (robots[:2], robots[1])
    assert _page(reader, AuditFilter(actor="robot"), after=robots[1]) == (robots[2:], None)
    # A page examines at most max_scan messages: it answers with where to go on from.
    assert _page(reader, AuditFilter(actor="robot"), max_scan=2) == ([], 2)
    ada_agg1 = [s for s in range(1, 21) if s % 4 and s % 5 == 1]
    assert _page(reader, AuditFilter(aggregate_id="agg1")) == (ada_agg1, None)


def test_audit_time_range_and_bad_filters() -> None:
    reader = _reader()
    since = datetime.fromtimestamp(5, UTC)
    until = datetime.fromtimestamp(10, UTC)
    in_range = [s for s in range(5, 10) if s % 4]
    assert _page(reader, AuditFilter(since=since, until=until)) == (in_range, None)
    with pytest.raises(NotFound):
        _page(reader, AuditFilter(aggregate_id="never-seen"))
    with pytest.raises(InvalidInput):
        _page(reader, AuditFilter(aggregate_type="Run.*"))
    with pytest.raises(InvalidInput):
        _page(reader, AuditFilter(since=until, until=since))


def test_audit_event_type_matches_qualified_short_or_topic() -> None:
    event = PushEvent(message(1, "ada"), PREFIX)
    for wanted in ("SecurityEvent.SecurityEventRecorded", "SecurityEventRecorded", event.topic):
        assert AuditFilter(event_type=wanted).matches(event)
    assert not AuditFilter(event_type="Recorded").matches(event)


def test_no_hook_can_widen_past_the_tenant_and_a_failing_hook_hides() -> None:
    def everything(viewer: Viewer, event: PushEvent) -> bool:
        return True

    def broken(viewer: Viewer, event: PushEvent) -> bool:
        raise RuntimeError("bug in a hook")

    wide = Hub(PREFIX, everything)
    ada = wide.register(Viewer("ada", "u1"))
    wide.dispatch(message(1, "bob"))
    assert not ada.buffer
    assert not wide.visible(Viewer("ada", "u1"), PushEvent(message(2, "bob"), PREFIX))
    failing = Hub(PREFIX, broken)
    bob = failing.register(Viewer("bob", "u2"))
    failing.dispatch(message(3, "bob"))
    assert not bob.buffer and failing.position == 3
