"""Catch-up then live: no gap and no duplicate, whatever the feed does meanwhile (no I/O)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator

import pytest

from adapters.push.hub import Hub
from adapters.push.session import Frame, PushSession
from api.streaming.wire import sse, ws_texts
from commands.ports.push import Focus, Viewer
from domain.errors import NotAuthenticated
from tests.unit.adapters.push.fakes import PREFIX, FakeReader, message

pytestmark = pytest.mark.unit

ADA = Viewer("ada", "u1")


def _setup(capacity: int = 100) -> tuple[FakeReader, Hub]:
    return FakeReader(), Hub(PREFIX, capacity=capacity)


def _store(reader: FakeReader, hub: Hub, seq: int, tenant: str = "ada", *, feed: bool) -> None:
    """Append to the store and, if the feed already got it, fan it out."""
    reader.append(message(seq, tenant))
    if feed:
        hub.dispatch(reader.messages[-1])


async def _take(frames: AsyncGenerator[Frame, None], count: int) -> list[Frame]:
    """Frames until `count` items: each event, and each control frame, counts one."""
    taken: list[Frame] = []
    async with asyncio.timeout(2):
        async for frame in frames:
            taken.append(frame)
            if sum(max(1, len(f.events)) for f in taken) >= count:
                break
    return taken


def _events(frames: list[Frame]) -> list[int]:
    return [event.seq for f in frames for event in f.events]


def test_catch_up_then_live_with_the_feed_lagging_and_racing() -> None:
    async def scenario() -> None:
        reader, hub = _setup()
        for seq in range(1, 6):
            _store(reader, hub, seq, "ada" if seq % 2 else "bob", feed=True)
        session = PushSession(hub, reader, ADA, last_event_id=1, heartbeat_s=5)

        def meanwhile(page: int) -> None:
            if page == 1:  # while catching up, two events are stored; the feed sees one
                _store(reader, hub, 6, feed=True)
                _store(reader, hub, 7, feed=False)

        reader.between_pages = meanwhile
        reader.page_size = 1  # so the read is still going on when they are stored
        frames = session.frames()
        got = await _take(frames, 5)  # 3, 5, 6, 7 from the store, then ready
        hub.dispatch(reader.messages[-1])  # the feed catches up with 7: already sent
        _store(reader, hub, 8, feed=True)
        _store(reader, hub, 9, "bob", feed=True)
        _store(reader, hub, 10, feed=True)
        got += await _take(frames, 2)
        await frames.aclose()
        assert _events(got) == [3, 5, 6, 7, 8, 10]
        ready = [f for f in got if f.kind == "ready"]
        assert len(ready) == 1 and ready[0].position == 7
        assert hub.subscribers == 0  # closing the frames unregisters

    asyncio.run(scenario())


def test_overflow_while_catching_up_reads_on_from_the_store() -> None:
    async def scenario() -> None:
        reader, hub = _setup(capacity=2)
        _store(reader, hub, 1, feed=True)
        session = PushSession(hub, reader, ADA, last_event_id=0, heartbeat_s=5)

        def burst(page: int) -> None:
            if page == 1 and reader.scans == 1:
                for seq in range(2, 9):  # more than the buffer holds
                    _store(reader, hub, seq, feed=True)

        reader.between_pages = burst
        frames = session.frames()
        got = await _take(frames, 9)
        _store(reader, hub, 9, feed=True)
        got += await _take(frames, 1)
        await frames.aclose()
        assert _events(got) == list(range(1, 10))
        assert reader.scans >= 2

    asyncio.run(scenario())


def test_a_subscriber_that_falls_behind_live_gets_resync_with_its_position() -> None:
    async def scenario() -> None:
        reader, hub = _setup(capacity=3)
        session = PushSession(hub, reader, ADA, last_event_id=None, heartbeat_s=5)
        frames = session.frames()
        assert (await _take(frames, 1))[0].kind == "ready"
        _store(reader, hub, 1, feed=True)
        assert _events(await _take(frames, 1)) == [1]
        for seq in range(2, 8):
            _store(reader, hub, seq, feed=True)
        (frame,) = await _take(frames, 1)
        assert frame.kind == "resync_required" and frame.status == 409
        assert frame.error["details"] == {"reason": "too_slow", "resume_from": 1}
        assert [f async for f in frames] == []  # the stream ends there
        assert hub.subscribers == 0

    asyncio.run(scenario())


def test_unknown_position_gets_resync_required_and_nothing_else() -> None:
    async def scenario() -> None:
        reader, hub = _setup()
        _store(reader, hub, 1, feed=True)
        session = PushSession(hub, reader, ADA, last_event_id=5, heartbeat_s=5)
        got = [frame async for frame in session.frames()]
        assert [f.kind for f in got] == ["resync_required"]
        assert got[0].error["details"]["reason"] == "position_unknown"
        assert got[0].error["details"]["last_position"] == 1

    asyncio.run(scenario())


def test_heartbeats_carry_the_position_and_reauthorisation_can_end_the_stream() -> None:
    async def scenario() -> None:
        reader, hub = _setup()
        checks: list[int] = []

        async def reauthorize() -> None:
            checks.append(1)
            if len(checks) == 2:
                raise NotAuthenticated("the session ended")

        session = PushSession(
            hub,
            reader,
            ADA,
            last_event_id=None,
            heartbeat_s=0.01,
            reauthorize=reauthorize,
            reauth_s=0.0,
        )
        got = [frame async for frame in session.frames()]
        assert [f.kind for f in got] == ["ready", "heartbeat", "closed"]
        assert got[-1].status == 401 and got[-1].error["code"] == "not_authenticated"

    asyncio.run(scenario())


def test_an_expired_token_ends_the_stream_with_its_resume_position() -> None:
    async def scenario() -> None:
        reader, hub = _setup()
        session = PushSession(
            hub, reader, ADA, last_event_id=None, heartbeat_s=0.01, expires_at=0.0
        )
        got = [frame async for frame in session.frames()]
        assert got[-1].kind == "closed" and got[-1].error["code"] == "token_expired"

    asyncio.run(scenario())


def test_shutdown_closes_every_subscriber() -> None:
    async def scenario() -> None:
        reader, hub = _setup()
        session = PushSession(hub, reader, ADA, last_event_id=None, heartbeat_s=5)
        frames = session.frames()
        await _take(frames, 1)
        hub.close_all("bye")
        (frame,) = await _take(frames, 1)
        assert frame.kind == "closed" and frame.status == 503

    asyncio.run(scenario())


def test_events_ready_at_once_go_out_in_one_frame_and_one_write() -> None:
    async def scenario() -> None:
        reader, hub = _setup()
        session = PushSession(hub, reader, ADA, last_event_id=None, heartbeat_s=5)
        frames = session.frames()
        await _take(frames, 1)
        for seq in (1, 2, 3):
            _store(reader, hub, seq, feed=True)
        (frame,) = await _take(frames, 3)
        await frames.aclose()
        assert [e.seq for e in frame.events] == [1, 2, 3] and frame.position == 3
        assert sse(frame).count(b"\nevent: SecurityEvent.SecurityEventRecorded\n") == 3
        assert [json.loads(text)["position"] for text in ws_texts(frame)] == [1, 2, 3]

    asyncio.run(scenario())


def test_with_the_hubs_ticker_idle_subscribers_still_get_heartbeats_and_events() -> None:
    async def scenario() -> None:
        reader, hub = _setup()
        hub.start_ticker(0.01)  # as the push service runs it: no timer per subscriber
        session = PushSession(hub, reader, ADA, last_event_id=None, heartbeat_s=0.02)
        frames = session.frames()
        got = await _take(frames, 3)
        _store(reader, hub, 1, feed=True)
        got += await _take(frames, 1)
        while got[-1].kind != "event":
            got += await _take(frames, 1)
        hub.close_all("bye")
        got += [frame async for frame in frames]
        kinds = [f.kind for f in got]
        assert kinds[:3] == ["ready", "heartbeat", "heartbeat"] and kinds[-1] == "closed"
        assert _events(got) == [1] and not hub.ticking

    asyncio.run(scenario())


def test_a_focused_session_sends_one_aggregate_in_catch_up_and_live() -> None:
    async def scenario() -> None:
        reader, hub = _setup()
        for seq, aggregate in enumerate(["run-a", "run-b", "run-a", "run-b"], start=1):
            reader.append(message(seq, "ada", aggregate))
            hub.dispatch(reader.messages[-1])
        focus = Focus("SecurityEvent", "run-a")
        session = PushSession(hub, reader, ADA, last_event_id=0, heartbeat_s=5, focus=focus)
        frames = session.frames()
        got = await _take(frames, 3)  # 1 and 3 from the store, then ready
        for seq, aggregate in ((5, "run-b"), (6, "run-a")):
            reader.append(message(seq, "ada", aggregate))
            hub.dispatch(reader.messages[-1])
        got += await _take(frames, 1)
        await frames.aclose()
        assert _events(got) == [1, 3, 6]
        assert [f.position for f in got if f.kind == "ready"] == [4]

    asyncio.run(scenario())
