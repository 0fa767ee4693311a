"""Following one run: `?run_id=` narrows the stream to that run's events, live and when
resuming with Last-Event-ID, on SSE and WebSocket, and never widens what a tenant sees."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from domain.event_context import EventContext
from domain.runs.run import Run
from infra.stack.launcher import StackEndpoints
from tests.e2e.push.harness import LiveCairn, Member, SseFrame, live_settings, sse_frames

pytestmark = pytest.mark.e2e

HASH = "ab" * 32
PLAN = {"summary": "n", "steps": []}


@pytest.fixture
def live(
    stack: StackEndpoints, migrated_database_url: str, unique_name: str, tmp_path: Path
) -> Iterator[LiveCairn]:
    """Without a run worker: these runs are written by the test and must stay as written."""
    settings = live_settings(stack, migrated_database_url, unique_name, tmp_path)
    cairn = LiveCairn(settings, with_worker=False).start()
    try:
        yield cairn
    finally:
        cairn.stop()


def _new_run(member: Member) -> Run:
    return Run(
        uuid.uuid4(), "note", member.user_id, None, "app", tenant_id=uuid.UUID(member.tenant)
    )


def _save(live: LiveCairn, member: Member, run: Run) -> int:
    context = EventContext(tenant=member.tenant, actor=member.user_id)
    position = live.services.runs.app.save_atomically(run, context=context)
    assert position is not None
    return position


def _stream(live: LiveCairn, member: Member, run_id: str, last_id: int) -> Any:
    return live.http.stream(
        "GET",
        "/v1/stream",
        params={"access_token": member.token, "run_id": run_id},
        headers={"Last-Event-ID": str(last_id)},
        timeout=5,
    )


def _until_ready(frames: Iterator[SseFrame]) -> tuple[list[SseFrame], SseFrame]:
    events: list[SseFrame] = []
    for frame in frames:
        if frame.event == "ready":
            return events, frame
        if frame.id is not None:
            events.append(frame)
    pytest.fail("the stream ended before ready")


def _run_ids(frames: list[SseFrame]) -> set[str]:
    return {json.loads(f.data)["aggregate_id"] for f in frames}


def test_a_run_filtered_stream_sends_that_run_only_and_resumes(live: LiveCairn) -> None:
    ada, bob = live.sign_up("followrun"), live.sign_up("otherrun")
    start = live.recorder.max_notification_id() or 0
    followed, other = _new_run(ada), _new_run(ada)
    positions = [_save(live, ada, followed)]
    _save(live, ada, other)
    live.record(ada.tenant, 1)  # the tenant's other events are not this run's
    followed.propose_plan(PLAN, HASH, {})
    positions.append(_save(live, ada, followed))
    other.cancel(ada.user_id)
    _save(live, ada, other)
    followed.decide("APPROVE", {}, HASH)
    positions.append(_save(live, ada, followed))

    with _stream(live, ada, str(followed.id), start) as response:
        assert response.status_code == 200, response.read()
        frames = sse_frames(response.iter_lines())
        caught_up, ready = _until_ready(frames)
        assert [f.position for f in caught_up] == positions
        assert [f.event for f in caught_up] == [
            "Run.IntentSubmitted",
            "Run.PlanProposed",
            "Run.PolicyDecided",
        ]
        assert ready.position >= positions[-1]
        _save(live, ada, _new_run(ada))  # live: another run of the same person, skipped
        followed.start_step("s1")
        positions.append(_save(live, ada, followed))
        live_frame = next(f for f in frames if f.id is not None)
        assert live_frame.position == positions[-1] and live_frame.event == "Run.StepStarted"

    # Resume after the first event: the rest of this run, nothing else, nothing twice.
    with _stream(live, ada, str(followed.id), positions[0]) as response:
        resumed, _ = _until_ready(sse_frames(response.iter_lines()))
    assert [f.position for f in resumed] == positions[1:]
    assert _run_ids(resumed) == {str(followed.id)}

    # Another tenant naming the run gets none of it.
    with _stream(live, bob, str(followed.id), start) as response:
        theirs, _ = _until_ready(sse_frames(response.iter_lines()))
    assert theirs == []


def test_the_websocket_can_follow_one_run(live: LiveCairn) -> None:
    ada = live.sign_up("wsrun")
    start = live.recorder.max_notification_id() or 0
    followed = _new_run(ada)
    first = _save(live, ada, followed)
    _save(live, ada, _new_run(ada))
    followed.cancel(ada.user_id)
    last = _save(live, ada, followed)
    url = live.base_url.replace("http://", "ws://") + (
        f"/v1/ws?access_token={ada.token}&run_id={followed.id}&last_event_id={start}"
    )
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    with connect(url, open_timeout=5) as ws:
        while not any(m["type"] == "ready" for m in got):
            got.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
    events = [m for m in got if m["type"] == "event"]
    assert [e["position"] for e in events] == [first, last]
    assert {e["aggregate_id"] for e in events} == {str(followed.id)}


def test_a_run_id_that_is_not_an_id_is_refused(live: LiveCairn) -> None:
    ada = live.sign_up("badrunid")
    response = live.http.get(
        "/v1/stream", params={"access_token": ada.token, "run_id": "../../x"}, timeout=5
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
