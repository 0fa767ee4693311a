"""WebSocket delivery, and tenant isolation on both push routes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.e2e.push.harness import LiveCairn, sse_frames, store_positions

pytestmark = pytest.mark.e2e


def _ws(live: LiveCairn, query: str = "", **headers: str) -> ClientConnection:
    url = live.base_url.replace("http://", "ws://") + "/v1/ws" + (f"?{query}" if query else "")
    return connect(url, additional_headers=headers, open_timeout=15)


def _messages(ws: ClientConnection, until: Any, timeout: float = 5) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not until(got):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"timed out; got {got}")
        got.append(json.loads(ws.recv(timeout=remaining)))
    return got


def _events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "event"]


def test_websocket_authenticated_by_first_message_resumes_and_sends_heartbeats(
    live: LiveCairn,
) -> None:
    ada = live.sign_up("wsfirst")
    start = live.recorder.max_notification_id() or 0
    written = [live.record(ada.tenant, n) for n in range(3)]
    with _ws(live) as ws:
        ws.send(json.dumps({"type": "auth", "access_token": ada.token, "last_event_id": start}))
        got = _messages(ws, lambda m: any(x["type"] == "heartbeat" for x in m))
        written.append(live.record(ada.tenant, 3))
        got += _messages(ws, lambda m: len(_events(m)) >= 1)
    events = _events(got)
    assert [e["position"] for e in events] == written
    assert got[3]["type"] == "ready" and got[3]["position"] == written[2]
    assert events[0]["state"]["details"] == {"n": 0}
    assert events[0]["tenant"] == ada.tenant and events[0]["aggregate_type"] == "SecurityEvent"


def test_websocket_unknown_position_is_resync_required_then_closed(live: LiveCairn) -> None:
    ada = live.sign_up("wsresync")
    beyond = (live.recorder.max_notification_id() or 0) + 50
    with _ws(live, f"access_token={ada.token}&last_event_id={beyond}") as ws:
        message = json.loads(ws.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert message["type"] == "resync_required"
    assert message["error"]["code"] == "resync_required"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409


def test_websocket_without_a_valid_token_is_refused(live: LiveCairn) -> None:
    with _ws(live, "access_token=forged") as ws:
        message = json.loads(ws.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert message["type"] == "closed" and message["error"]["code"] == "token_invalid"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_a_tenant_never_receives_another_tenants_events(live: LiveCairn) -> None:
    ada, bob = live.sign_up("tenanta"), live.sign_up("tenantb")
    start = live.recorder.max_notification_id() or 0
    # Bob's token asks for everything from the stream's beginning, on both routes.
    for n in range(5):
        live.record(ada.tenant, n)
        live.record(bob.tenant, n)
    with (
        _ws(live, "last_event_id=0", Authorization=f"Bearer {bob.token}") as ws,
        live.http.stream(
            "GET", "/v1/stream", headers={**bob.headers, "Last-Event-ID": "0"}, timeout=5
        ) as response,
    ):
        live.record(ada.tenant, 99)
        last_bob = live.record(bob.tenant, 99)
        ws_events = _events(_messages(ws, lambda m: any(x.get("position") == last_bob for x in m)))
        sse_events = []
        for frame in sse_frames(response.iter_lines()):
            if frame.id is not None and frame.event != "ready":
                sse_events.append(json.loads(frame.data))
            if frame.id == str(last_bob):
                break
    bobs = store_positions(live.store_messages(bob.tenant))
    for events in (ws_events, sse_events):
        assert {e["tenant"] for e in events} == {bob.tenant}
        assert [e["position"] for e in events] == bobs  # all of Bob's, since sign-up
    adas = set(store_positions(live.store_messages(ada.tenant, after=start)))
    assert adas and not adas & {e["position"] for e in ws_events + sse_events}
