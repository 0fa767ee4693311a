"""Server-Sent Events over a real socket: resume without gap or duplicate, resync, heartbeats."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.e2e.push.harness import LiveCairn, SseFrame, sse_frames, store_positions

pytestmark = pytest.mark.e2e

RECORDED = "SecurityEvent.SecurityEventRecorded"


def _open(live: LiveCairn, token: str, last_id: str | None = None) -> Any:
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    return live.http.stream(
        "GET", "/v1/stream", params={"access_token": token}, headers=headers, timeout=5
    )


def test_a_reconnecting_client_gets_every_event_exactly_once_in_order(live: LiveCairn) -> None:
    ada, bob = live.sign_up("resume"), live.sign_up("noise")
    start = live.recorder.max_notification_id() or 0
    total = 60

    def produce() -> None:
        for n in range(total):
            live.record(ada.tenant, n)
            live.record(bob.tenant, n)  # another tenant's events interleave
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    received: list[dict[str, Any]] = []
    last_id = str(start)
    disconnects = 0
    try:
        while True:
            with _open(live, ada.token, last_id) as response:
                assert response.status_code == 200, response.read()
                assert response.headers["content-type"].startswith("text/event-stream")
                this_time = 0
                for frame in sse_frames(response.iter_lines()):
                    last_id = frame.id if frame.id is not None else last_id
                    if frame.event == RECORDED:
                        received.append(json.loads(frame.data) | {"sse_id": frame.id})
                        this_time += 1
                    if producer.is_alive() and this_time >= 12:
                        disconnects += 1
                        break  # hang up mid-stream while events keep coming
                    finished = not producer.is_alive() and len(received) >= total
                    if finished and "heartbeat" in " ".join(frame.comments):
                        break  # one quiet heartbeat after the last: nothing more is coming
                else:
                    pytest.fail("the stream ended by itself")
            if not producer.is_alive() and len(received) >= total:
                break
            time.sleep(0.05)  # events are appended while nobody listens
    finally:
        producer.join()

    expected = store_positions(live.store_messages(ada.tenant, after=start))
    positions = [event["position"] for event in received]
    assert disconnects >= 3
    assert positions == expected  # every event of the tenant, once, in stream order
    assert [event["state"]["details"]["n"] for event in received] == list(range(total))
    assert all(str(event["position"]) == event["sse_id"] for event in received)
    assert {event["tenant"] for event in received} == {ada.tenant}
    hub = live.app.state.push.hub
    deadline = time.monotonic() + 3
    while hub.subscribers and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.subscribers == 0  # every hung-up client was noticed and dropped


def test_an_unknown_position_gets_resync_required_and_the_stream_ends(live: LiveCairn) -> None:
    ada = live.sign_up("unknown")
    beyond = (live.recorder.max_notification_id() or 0) + 1000
    with _open(live, ada.token, str(beyond)) as response:
        assert response.status_code == 200
        frames = list(sse_frames(response.iter_lines()))  # the server closes the stream
    resync = [f for f in frames if f.event == "resync_required"]
    assert len(resync) == 1
    body = json.loads(resync[0].data)
    assert body["error"]["code"] == "resync_required"
    assert body["error"]["details"]["reason"] == "position_unknown"
    assert not [f for f in frames if f.event not in (None, "resync_required")]


def test_heartbeats_arrive_while_nothing_happens(live: LiveCairn) -> None:
    ada = live.sign_up("heartbeat")
    began = time.monotonic()
    beats: list[SseFrame] = []
    with _open(live, ada.token) as response:
        for frame in sse_frames(response.iter_lines()):
            if any(c.startswith("heartbeat") for c in frame.comments):
                beats.append(frame)
            if len(beats) == 2:
                break
    assert time.monotonic() - began < 3  # configured every 0.5 s here


def test_the_stream_needs_a_valid_token(live: LiveCairn) -> None:
    missing = live.http.get("/v1/stream")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "token_missing"
    bad = live.http.get("/v1/stream", params={"access_token": "not-a-token"})
    assert bad.status_code == 401
    ada = live.sign_up("badid")
    invalid = live.http.get(
        "/v1/stream", params={"access_token": ada.token}, headers={"Last-Event-ID": "x"}
    )
    assert invalid.status_code == 400
