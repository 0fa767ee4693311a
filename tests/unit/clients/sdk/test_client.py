"""The clients' behaviour against a scripted transport (no server): idempotent retries, token
refresh, read-your-writes, errors with the API's codes, and resuming a push stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clients.sdk import (
    AsyncCairn,
    Cairn,
    Credentials,
    NotFound,
    RetryPolicy,
    StreamError,
    Unavailable,
    Unreachable,
)
from clients.sdk.device import DeviceLoginFailed, device_login
from clients.sdk.models import DeviceAuthorization, PushEvent, StreamControl

pytestmark = pytest.mark.unit

Answer = httpx.Response | Exception


def error(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": f"{code} happened", "details": {"x": 1}}}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers requests in order; remembers what was sent."""

    def __init__(self, *answers: Answer | Callable[[httpx.Request], Answer]) -> None:
        self.answers = list(answers)
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        answer = self.answers.pop(0)
        if callable(answer) and not isinstance(answer, httpx.Response):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(script: Script, **options: Any) -> tuple[Cairn, list[float]]:
    slept: list[float] = []
    http = httpx.Client(base_url="http://cairn.test", transport=httpx.MockTransport(script))
    creds = options.pop("credentials", Credentials("access-1", "refresh-1", "s1"))
    return Cairn(http=http, credentials=creds, sleep=slept.append, **options), slept


ACCEPTED = {"run_id": "r1", "position": 41}


def test_a_command_is_retried_with_the_same_key_after_no_answer_and_503() -> None:
    script = Script(
        httpx.ConnectError("refused"),
        error(503, "unavailable", **{"Retry-After": "2"}),
        httpx.Response(202, json=ACCEPTED),
    )
    cairn, slept = client(script)
    accepted = cairn.submit_intent("pay Bob")
    assert accepted.run_id == "r1"
    keys = {request.headers["Idempotency-Key"] for request in script.sent}
    assert len(script.sent) == 3 and len(keys) == 1
    assert slept == [0.2, 2.0]  # backoff, then the server's Retry-After
    assert json.loads(script.sent[0].content) == {"text": "pay Bob", "channel": "app"}


def test_two_commands_get_two_keys_and_a_given_key_is_used() -> None:
    script = Script(*(httpx.Response(202, json=ACCEPTED) for _ in range(3)))
    cairn, _ = client(script)
    cairn.submit_intent("a")
    cairn.submit_intent("a")
    cairn.submit_intent("a", idempotency_key="mine")
    keys = [request.headers["Idempotency-Key"] for request in script.sent]
    assert keys[0] != keys[1] and keys[2] == "mine"


def test_errors_carry_the_api_code_and_are_not_retried_when_final() -> None:
    script = Script(error(404, "run_not_found", **{"X-Request-ID": "req-9"}))
    cairn, slept = client(script)
    with pytest.raises(NotFound) as raised:
        cairn.run("r1")
    assert raised.value.code == "run_not_found"
    assert raised.value.status == 404
    assert raised.value.details == {"x": 1}
    assert raised.value.request_id == "req-9"
    assert slept == []


def test_giving_up_raises_the_last_answer_or_unreachable() -> None:
    cairn, _ = client(Script(*(error(503, "unavailable") for _ in range(2))))
    cairn.core.retry = RetryPolicy(attempts=2)
    with pytest.raises(Unavailable):
        cairn.policies()
    cairn, _ = client(Script(*(httpx.ReadTimeout("slow") for _ in range(2))))
    cairn.core.retry = RetryPolicy(attempts=2)
    with pytest.raises(Unreachable):
        cairn.policies()


def test_an_expired_token_is_refreshed_once_and_the_request_sent_again() -> None:
    pair = {"access_token": "access-2", "refresh_token": "refresh-2", "session_id": "s1"}
    script = Script(
        error(401, "token_expired"),
        httpx.Response(200, json=pair),
        httpx.Response(200, json={"text": "permit", "version": "v", "is_default": True}),
    )
    saved: list[Credentials] = []
    cairn, _ = client(script, on_credentials=saved.append)
    assert cairn.policies().text == "permit"
    refresh = script.sent[1]
    assert refresh.url.path == "/v1/auth/refresh"
    assert json.loads(refresh.content) == {"refresh_token": "refresh-1"}
    assert "Authorization" not in refresh.headers
    assert script.sent[2].headers["Authorization"] == "Bearer access-2"
    assert saved == [Credentials("access-2", "refresh-2", "s1")]


def test_a_revoked_session_is_not_refreshed() -> None:
    cairn, _ = client(Script(error(401, "session_revoked")))
    with pytest.raises(Exception, match="session_revoked"):
        cairn.policies()


def test_queries_wait_for_the_clients_own_last_write() -> None:
    run = {"run_id": "r1", "status": "planning", "text": "t", "channel": "app"}
    script = Script(
        httpx.Response(202, json=ACCEPTED),
        error(409, "projection_behind"),
        httpx.Response(200, json=run),
        httpx.Response(200, json={"items": [], "next_cursor": None}),
    )
    cairn, _ = client(script)
    cairn.submit_intent("t")
    assert cairn.run("r1").status == "planning"
    cairn.wait_for(50)
    cairn.runs(status="escalated")
    assert [r.url.params.get("after") for r in script.sent] == [None, "41", "41", "50"]
    assert script.sent[3].url.params["status"] == "escalated"


def sse(*frames: str) -> bytes:
    return ("retry: 2000\n: connected\n\n" + "".join(frames)).encode()


def event(position: int, name: str = "Run.RunCompleted") -> str:
    body = {"type": "event", "position": position, "event": name}
    return f"id: {position}\nevent: {name}\ndata: {json.dumps(body)}\n\n"


def closed(position: int, code: str) -> str:
    body = {"type": "closed", "position": position, "error": {"code": code, "message": "bye"}}
    return f"event: closed\ndata: {json.dumps(body)}\n\n"


READY_9 = 'id: 9\nevent: ready\ndata: {"type":"ready","position":9}\n\n'


def test_a_subscription_resumes_after_the_last_event_with_a_fresh_token() -> None:
    pair = {"access_token": "access-2", "refresh_token": "refresh-2", "session_id": "s1"}
    script = Script(
        httpx.Response(200, content=sse(event(5), closed(5, "token_expired"))),
        httpx.Response(200, json=pair),
        httpx.ReadError("dropped"),
        httpx.Response(200, content=sse(event(6), READY_9)),
    )
    cairn, _ = client(script)
    stream = cairn.subscribe(run_id="r1", last_event_id=3)
    items = [next(stream) for _ in range(3)]
    stream.close()
    assert [type(item) for item in items] == [PushEvent, PushEvent, StreamControl]
    assert [item.position for item in items] == [5, 6, 9]
    streams = [r for r in script.sent if r.url.path == "/v1/stream"]
    assert [r.headers.get("Last-Event-ID") for r in streams] == ["3", "5", "5"]
    assert streams[-1].headers["Authorization"] == "Bearer access-2"
    assert all(r.url.params["run_id"] == "r1" for r in streams)


def test_a_subscription_that_must_resync_raises() -> None:
    resync = {"type": "resync_required", "position": 3, "error": {"code": "resync_required"}}
    frame = f"event: resync_required\ndata: {json.dumps(resync)}\n\n"
    cairn, _ = client(Script(httpx.Response(200, content=sse(frame))))
    with pytest.raises(StreamError) as raised:
        list(cairn.subscribe())
    assert raised.value.code == "resync_required"


def test_the_async_client_behaves_alike() -> None:
    script = Script(
        httpx.ConnectError("refused"),
        httpx.Response(202, json=ACCEPTED),
        httpx.Response(200, content=sse(event(42))),
    )
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def scenario() -> tuple[str, int]:
        http = httpx.AsyncClient(base_url="http://c.test", transport=httpx.MockTransport(script))
        async with AsyncCairn(http=http, credentials=Credentials("a"), sleep=sleep) as cairn:
            accepted = await cairn.submit_intent("pay")
            stream = cairn.subscribe(last_event_id=cairn.position)
            item = await anext(stream)
            await stream.aclose()
            await http.aclose()
            return accepted.run_id, item.position or 0

    assert asyncio.run(scenario()) == ("r1", 42)
    assert slept == [0.2]
    assert script.sent[0].headers["Idempotency-Key"] == script.sent[1].headers["Idempotency-Key"]
    assert script.sent[2].headers["Last-Event-ID"] == "41"


def test_device_login_polls_at_the_servers_pace_and_reports_a_denial() -> None:
    code = {
        "device_code": "d" * 43,
        "user_code": "BCDF-GHJK",
        "verification_uri": "http://c.test/device",
        "verification_uri_complete": "http://c.test/device?user_code=BCDF-GHJK",
        "expires_in": 600,
        "interval": 5,
    }
    session = {
        "tenant_id": "t",
        "user_id": "u",
        "device_id": "d",
        "session_id": "s",
        "access_token": "a",
        "refresh_token": "r",
    }
    slow = {"error": {"code": "slow_down", "message": "slower", "details": {"interval": 10}}}
    script = Script(
        httpx.Response(200, json=code),
        error(400, "authorization_pending"),
        httpx.Response(400, json=slow),
        httpx.Response(200, json=session),
    )
    cairn, _ = client(script, credentials=None)
    shown: list[DeviceAuthorization] = []
    waits: list[float] = []
    signed_in = device_login(cairn, shown.append, sleep=waits.append)
    assert shown[0].user_code == "BCDF-GHJK"
    assert waits == [5, 5, 10]
    assert signed_in.user_id == "u" and cairn.credentials == Credentials(
        "a", "r", "s", "t", "u", "d"
    )
    polls = [json.loads(r.content) for r in script.sent[1:]]
    assert polls[0] == {"device_code": "d" * 43, "device_name": "cairn CLI"}
    assert len({r.headers["Idempotency-Key"] for r in script.sent[1:]}) == 3

    denied, _ = client(Script(httpx.Response(200, json=code), error(400, "access_denied")))
    with pytest.raises(DeviceLoginFailed) as failed:
        device_login(denied, shown.append, sleep=waits.append)
    assert failed.value.code == "access_denied"
