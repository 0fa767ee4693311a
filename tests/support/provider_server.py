"""A fake provider for the executor's tests: a real HTTP server on a free loopback port.

It implements the five catalogue actions the way a careful provider does (Stripe-style
idempotency, as in the IETF httpapi idempotency-key draft):

- `Idempotency-Key` is required (400 without); the first request with a key performs the
  action and stores the answer; a repeat with the same body gets the stored answer
  (`Idempotent-Replayed: true`) and performs nothing; the same key with another body is 422;
  the same key while the first request is still being processed is 409.
- `performed(action)` counts how many times an action really happened.

Faults for the next N requests, in the order they arrive:

- `fail_next`: answer an HTTP status (5xx or 4xx) and perform nothing;
- `hang_next`: hold the request until `release()` or a time limit, then drop it unperformed
  (it never reached the provider), or with `perform=True` perform it late (its key is in
  flight meanwhile: a repeat gets 409);
- `crash_next`: close the connection without an answer, before or after performing: what a
  client sees when the provider, or the network, dies mid-request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from domain.runs.actions import CATALOGUE

# The provider's own API (what a connector would expose); the executor's route table must
# match it, which the tests check by talking to it.
PATHS = {
    "/v1/calendar/events": ("calendar.create_event", "evt"),
    "/v1/email/messages": ("email.send", "msg"),
    "/v1/reminders": ("reminders.create", "rem"),
    "/v1/notes": ("notes.create", "note"),
    "/v1/payments": ("payments.send", "pay"),
}


@dataclass(frozen=True)
class Fault:
    kind: str  # "fail", "hang" or "crash"
    status: int = 503
    seconds: float = 30.0
    perform: bool = False  # hang: perform after the hang; crash: perform before closing


@dataclass(frozen=True)
class Performed:
    action: str
    idempotency_key: str
    tenant: str | None
    parameters: dict[str, Any]
    result: dict[str, Any]


@dataclass(frozen=True)
class Seen:
    """One request as it arrived, whatever became of it."""

    action: str | None
    idempotency_key: str | None
    tenant: str | None


@dataclass
class _Key:
    body_hash: str
    answer: tuple[int, dict[str, Any]] | None = None  # None while in flight


@dataclass
class FakeProvider:
    base_url: str = ""
    # Seconds each action takes to perform (the key is in flight meanwhile): widens races.
    latency: float = 0.0
    performances: list[Performed] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _Key] = {}
        self._faults: deque[Fault] = deque()
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # Control

    def start(self) -> FakeProvider:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        self._queue(n, Fault("fail", status=status))

    def hang_next(self, n: int = 1, seconds: float = 30.0, *, perform: bool = False) -> None:
        self._queue(n, Fault("hang", seconds=seconds, perform=perform))

    def crash_next(self, n: int = 1, *, after_perform: bool = True) -> None:
        self._queue(n, Fault("crash", perform=after_perform))

    def release(self) -> None:
        """End every hang now (each then performs or drops as it was told)."""
        self._released.set()

    def _queue(self, n: int, fault: Fault) -> None:
        with self._lock:
            self._released.clear()
            self._faults.extend([fault] * n)

    # Observation

    def performed(self, action: str | None = None) -> int:
        with self._lock:
            return sum(1 for p in self.performances if action in (None, p.action))

    def received(self, action: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if action in (None, r.action))

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the fake provider did not reach the expected state")
            time.sleep(0.01)

    # Serving (called on the server's threads)

    def handle(self, path: str, key: str | None, tenant: str | None, raw: bytes) -> _Answer:
        route = PATHS.get(path)
        with self._lock:
            self.requests.append(Seen(route[0] if route else None, key, tenant))
            fault = self._faults.popleft() if self._faults else None
        if route is None:
            return 404, {"error": {"code": "not_found"}}, False
        action, prefix = route
        if fault is not None and fault.kind == "fail":
            return fault.status, {"error": {"code": "injected_failure"}}, False
        if fault is not None and fault.kind == "crash" and not fault.perform:
            return None
        if fault is not None and fault.kind == "hang" and not fault.perform:
            # Stuck in front of the provider (a proxy, a queue): never reaches it.
            self._released.wait(fault.seconds)
            return None
        if not key:
            return 400, {"error": {"code": "idempotency_key_missing"}}, False
        try:
            body = json.loads(raw)
            parameters = CATALOGUE[action].parameters.model_validate(body)
        except (ValueError, ValidationError):
            return 400, {"error": {"code": "invalid_parameters"}}, False
        body_hash = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self._lock:
            known = self._keys.get(key)
            if known is not None:
                if known.body_hash != body_hash:
                    return 422, {"error": {"code": "idempotency_key_reused"}}, False
                if known.answer is None:
                    return 409, {"error": {"code": "idempotency_key_in_flight"}}, False
                status, stored = known.answer
                return status, stored, True
            self._keys[key] = _Key(body_hash)
        if fault is not None and fault.kind == "hang":
            self._released.wait(fault.seconds)  # in flight: a repeat of the key gets 409
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            result = {"id": f"{prefix}_{len(self.performances) + 1}", "action": action}
            self.performances.append(
                Performed(action, key, tenant, parameters.model_dump(mode="json"), result)
            )
            self._keys[key].answer = (201, result)
        if fault is not None and fault.kind == "crash":
            return None  # performed and stored, but the answer never leaves
        return 201, result, False


# (status, JSON body, replayed?), or None to close the connection without an answer.
_Answer = tuple[int, dict[str, Any], bool] | None


def _handler_for(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Without it, Nagle's algorithm and the client's delayed ACK add ~40 ms to each answer
        # (headers and body leave in two writes).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = provider.handle(
                self.path,
                self.headers.get("Idempotency-Key"),
                self.headers.get("Cairn-Tenant"),
                raw,
            )
            if answer is None:
                self.close_connection = True
                return
            status, body, replayed = answer
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True  # the client gave up (timeout) or was killed

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
