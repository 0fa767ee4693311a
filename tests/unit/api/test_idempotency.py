"""The senders read the Idempotency-Key and the request's path themselves: what they read must
be what FastAPI's header parameter and Starlette's URL gave (kept fingerprints depend on it)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.requests import Request as StarletteRequest

from api.idempotency import IDEMPOTENCY_KEY, CommandAnswer, idempotency_key_of, path_of

pytestmark = pytest.mark.unit

# As the senders declared it before (decision 0063): FastAPI's own reading of the header.
DeclaredKey = Annotated[str | None, Header(alias=IDEMPOTENCY_KEY)]


def _both_readings(headers: list[tuple[bytes, bytes]]) -> tuple[Any, Any]:
    app = FastAPI()

    @app.post("/read")
    def read(request: Request, declared: DeclaredKey = None) -> dict[str, Any]:
        return {"declared": declared, "read": idempotency_key_of(request)}

    answer = TestClient(app).post("/read", headers=headers).json()
    return answer["declared"], answer["read"]


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"Idempotency-Key", b"k1")],
        [(b"idempotency-key", b"lower")],
        [(b"IDEMPOTENCY-KEY", b"upper")],
        [(b"Idempotency-Key", b"")],
        [(b"Idempotency-Key", b"  spaced  ")],
        [(b"Idempotency-Key", b"first"), (b"Idempotency-Key", b"second")],
        [(b"Idempotency_Key", b"underscore is another header")],
        [(b"Idempotency-Key", "caf\u00e9".encode("latin-1"))],
    ],
)
def test_the_key_read_is_the_one_the_header_parameter_gave(
    headers: list[tuple[bytes, bytes]],
) -> None:
    declared, read = _both_readings(headers)
    assert read == declared


def _request(path: str, host: bytes | None, server: tuple[str, int] | None) -> StarletteRequest:
    headers = [(b"host", host)] if host is not None else []
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"a=1",
        "headers": headers,
        "scheme": "http",
        "server": server,
    }
    return StarletteRequest(scope)


PATHS = [
    "/v1/intents",
    "/v1/runs/8c1d6f0e-1b0a-4a57-9a43-0d3d8a4d2b11/cancel",
    "/v1/users/ada%40example.com/erase",
    "/v1/caf\u00e9",
    "/v1/a b",
    "/x//y/",
    "//v1/intents",
    "/v1/a?b",
    "/v1/a#b",
    "/v1/a\\b",
    "/v1/a\tb",
    "/v1/a\r\nb",
    "/v1/a:b",
    "/v1/[x]",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("host", "server"),
    [
        (b"127.0.0.1:8000", ("127.0.0.1", 8000)),
        (b"api.example.com", None),
        (b"not a/valid?host", ("::1", 80)),
        (None, ("127.0.0.1", 8000)),
        (None, None),
    ],
)
def test_the_path_read_is_the_one_the_url_gave(
    path: str, host: bytes | None, server: tuple[str, int] | None
) -> None:
    assert path_of(_request(path, host, server)) == _request(path, host, server).url.path


@pytest.mark.parametrize(
    "content",
    [
        {"run_id": "8c1d6f0e-1b0a-4a57-9a43-0d3d8a4d2b11", "position": 42},
        {"error": {"code": "conflict", "message": "caf\u00e9 \u2603 \U0001f600", "details": {}}},
        {"nested": [1, 2.5, None, True, {"a": [], "b": {}}], "big": 10**30},
        [],
    ],
)
def test_a_command_answer_has_the_bytes_of_a_json_response(content: Any) -> None:
    assert CommandAnswer(content).body == JSONResponse(content).body


def test_a_command_answer_refuses_what_a_json_response_refuses() -> None:
    for content in ({"x": float("nan")}, {"x": float("inf")}, {"x": "lone \ud800"}):
        with pytest.raises(ValueError):
            JSONResponse(content)
        with pytest.raises(ValueError):
            CommandAnswer(content)
