"""The HTTP plumbing the fake Google and Graph APIs share: a threaded server on a free
loopback port, bearer tokens, queued faults (an error body, a rate limit with or without
`Retry-After`), and a log of every request. The provider shapes are in fake_google.py and
fake_graph.py."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    token: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a plain-text body instead of JSON


Route = Callable[[Request, re.Match[str]], Answer]


class FakeApi:
    """Subclasses add routes with `route(method, pattern, fn)` and an error body shape."""

    def __init__(self, tokens: set[str] | None = None) -> None:
        self.base_url = ""
        self.tokens: set[str] = set(tokens or ())
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self._faults: deque[Answer] = deque()
        self._server: ThreadingHTTPServer | None = None

    # Control

    def route(self, method: str, pattern: str, fn: Route) -> None:
        self._routes.append((method, re.compile(pattern + "$"), fn))

    def start(self) -> FakeApi:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def fault_next(self, *answers: Answer) -> None:
        """Answer the next requests (after the token check) with these, in order."""
        with self.lock:
            self._faults.extend(answers)

    def error(self, status: int, reason: str, message: str = "") -> Answer:
        raise NotImplementedError

    def calls(self, method: str, path_pattern: str) -> int:
        pattern = re.compile(path_pattern + "$")
        with self.lock:
            return sum(1 for r in self.requests if r.method == method and pattern.match(r.path))

    def wait_until(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the fake provider did not reach the expected state")
            time.sleep(0.02)

    @staticmethod
    def post_json(url: str, body: Any, headers: dict[str, str]) -> httpx.Response:
        """What the provider sends to a subscriber's webhook."""
        return httpx.post(url, json=body, headers=headers, timeout=10)

    # Serving

    def serve(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        request = Request(method, parts.path, query, body, token, headers)
        with self.lock:
            self.requests.append(request)
            if token is None or token not in self.tokens:
                return self.error(401, "authError", "Invalid Credentials")
            if self._faults:
                return self._faults.popleft()
            for verb, pattern, fn in self._routes:
                match = pattern.match(parts.path)
                if verb == method and match:
                    return fn(request, match)
        return self.error(404, "notFound", "Not Found")


def _handler_for(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # ~40 ms per answer otherwise (FIELD-NOTES)

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = api.serve(self.command, self.path, headers, raw)
            if answer.text is not None:
                data, kind = answer.text.encode(), "text/plain"
            elif answer.body is None:
                data, kind = b"", "application/json"
            else:
                data, kind = json.dumps(answer.body).encode(), "application/json"
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
