"""The runs benchmark's load generator, in a process of its own (`python -m
tests.benchmarks.runs_load`), so that its CPU is measured apart from the server's.

People wait for their runs the way the SDK does: each keeps one SSE connection to
`GET /v1/stream` open (its tenant's events) and submits intents on a keep-alive connection; a
run is done when its `Run.RunCompleted` (or `Run.RunFailed`) event arrives on the stream. HTTP
is spoken on plain asyncio sockets (just enough HTTP/1.1 and SSE), to keep the client's own
cost small on a machine it shares with the server.

Protocol on stdin/stdout, one JSON object per line: the first input line is the setup
(`port`, `tokens`); the process answers `{"ready": true}` once every stream is open, then
answers each command (`warmup`, `capacity`, `latency`, `whoami`) with its result and exits at
end of input.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvloop

RUN_EVENT = re.compile(
    rb'event: Run\.(\w+)\ndata: [^\n]*?"aggregate_id":"([0-9a-f-]{36})"'
    rb'[^\n]*?"recorded_at":"([^"]+)"'
)
FINAL = {b"RunCompleted", b"RunFailed"}
RUN_TIMEOUT_S = 60.0
# Where a run's time goes, from the store times of its events (`recorded_at`, the server's
# clock: this machine's): each phase ends when the named event was stored.
PHASES = (
    ("submitted (API, from the POST)", "IntentSubmitted"),
    # One worker carries the run on from one pick-up; plan, decision and the step's start
    # are stored in one append (decision 0021), so the next two phases are ~0.
    ("planned (worker: pick-up, plan, policy, save)", "PlanProposed"),
    ("decided (same save)", "PolicyDecided"),
    ("step started (same save)", "StepStarted"),
    ("step done (provider call, save)", "StepSucceeded"),
    ("completed (save)", "RunCompleted"),
)
PUSHED = "completed event read from SSE (push)"


class Http:
    """One keep-alive HTTP/1.1 connection; requests one at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lock = asyncio.Lock()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        async with self.lock:
            for _ in range(2):
                if self.writer is None or self.reader is None:
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.writer.write(head.encode() + b"\r\n" + body)
                try:
                    status_line = await self.reader.readline()
                except ConnectionResetError:
                    status_line = b""  # the same race, answered with a reset
                if status_line:
                    break
                # The server closed the idle keep-alive connection before reading this
                # request: open another and send it there (each command carries its
                # Idempotency-Key, so a request the server did read is not applied twice).
                self.writer.close()
                self.reader = self.writer = None
            assert self.reader is not None
            status = int(status_line.split()[1])
            length = 0
            while line := (await self.reader.readline()).strip():
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            return status, await self.reader.readexactly(length)


@dataclass
class Person:
    token: str
    port: int
    http: Http = field(init=False)
    # Run id -> when its final event was read, and whether it completed.
    finished: dict[str, tuple[float, bool]] = field(default_factory=dict)
    waiting: dict[str, asyncio.Future[tuple[float, bool]]] = field(default_factory=dict)
    # Run id -> event name -> its store time (epoch seconds); the read time of the last.
    stored: dict[str, dict[str, float]] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.http = Http(self.port)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def follow(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}"
            "\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        status = await reader.readline()
        assert b" 200 " in status, status
        while (await reader.readline()).strip():
            pass
        pending = b""
        # Whole chunks and one regex, not a readline per SSE line.
        while chunk := await reader.read(65536):
            now, wall = time.perf_counter(), time.time()
            pending += chunk
            cut = pending.rfind(b"\n\n") + 2
            complete, pending = pending[:cut], pending[cut:]
            if not self.ready.is_set() and b"event: ready" in complete:
                self.ready.set()
            for kind, run_id, recorded_at in RUN_EVENT.findall(complete):
                rid = run_id.decode()
                events = self.stored.setdefault(rid, {})
                events[kind.decode()] = _epoch(recorded_at)
                if kind not in FINAL:
                    continue
                events[PUSHED] = wall
                outcome = (now, kind == b"RunCompleted")
                future = self.waiting.pop(rid, None)
                if future is not None and not future.done():
                    future.set_result(outcome)
                else:
                    self.finished[rid] = outcome

    async def submit(self) -> str:
        body = json.dumps({"text": "note: buy milk"}).encode()
        headers = {**self.auth, "Idempotency-Key": uuid.uuid4().hex}
        status, answer = await self.http.request("POST", "/v1/intents", headers, body)
        assert status == 202, answer
        run_id: str = json.loads(answer)["run_id"]
        return run_id

    async def finished_at(self, run_id: str) -> tuple[float, bool]:
        if run_id in self.finished:
            return self.finished.pop(run_id)
        future = asyncio.get_running_loop().create_future()
        self.waiting[run_id] = future
        try:
            return await asyncio.wait_for(future, RUN_TIMEOUT_S)
        except TimeoutError:
            self.waiting.pop(run_id, None)
            return time.perf_counter(), False


def _epoch(recorded_at: bytes) -> float:
    return datetime.fromisoformat(recorded_at.decode()).timestamp()


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    accepted_ms: list[float] = field(default_factory=list)
    phases_ms: dict[str, list[float]] = field(default_factory=dict)
    failed: int = 0
    last: float = 0.0

    async def one_run(self, person: Person, began: float) -> None:
        sent = time.time() - (time.perf_counter() - began)  # the wall time of `began`
        run_id = await person.submit()
        self.accepted_ms.append((time.perf_counter() - began) * 1000)
        at, completed = await person.finished_at(run_id)
        stored = person.stored.pop(run_id, {})
        if not completed:
            self.failed += 1
            return
        self.latencies_ms.append((at - began) * 1000)
        self.last = max(self.last, at)
        previous = sent
        for phase, event in (*PHASES, (PUSHED, PUSHED)):
            if event not in stored:
                break
            self.phases_ms.setdefault(phase, []).append((stored[event] - previous) * 1000)
            previous = stored[event]

    def result(self, began: float, cpu: float) -> dict[str, Any]:
        return {
            "runs": len(self.latencies_ms),
            "failed": self.failed,
            "seconds": (self.last or time.perf_counter()) - began,
            "latencies_ms": self.latencies_ms,
            "accepted_ms": self.accepted_ms,
            "phases_ms": self.phases_ms,
            "client_cpu_s": time.process_time() - cpu,
        }


async def closed_loop(people: list[Person], seconds: float) -> dict[str, Any]:
    """Each person submits back to back (the next intent once the last run completed)."""
    tally, cpu, began = Tally(), time.process_time(), time.perf_counter()
    stop = began + seconds

    async def person_loop(person: Person) -> None:
        while True:  # at least one run each
            await tally.one_run(person, time.perf_counter())
            if time.perf_counter() >= stop:
                return

    await asyncio.gather(*(person_loop(p) for p in people))
    return tally.result(began, cpu)


async def open_loop(people: list[Person], rate: float, seconds: float) -> dict[str, Any]:
    """Intents at a steady rate whatever the answers (round robin over the people); latency
    counts from each intent's scheduled time, so a late client cannot hide a slow server."""
    tally, cpu, began = Tally(), time.process_time(), time.perf_counter()
    tasks = []
    for n in range(round(rate * seconds)):
        scheduled = began + n / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        person = people[n % len(people)]
        tasks.append(asyncio.create_task(tally.one_run(person, scheduled)))
    await asyncio.gather(*tasks)
    return tally.result(began, cpu)


async def whoami(person: Person, count: int) -> dict[str, Any]:
    http = Http(person.port)
    latencies, cpu, began = [], time.process_time(), time.perf_counter()
    for _ in range(count):
        sent = time.perf_counter()
        status, answer = await http.request("GET", "/bench/whoami", person.auth)
        assert status == 200, answer
        latencies.append((time.perf_counter() - sent) * 1000)
    return {
        "requests": count,
        "seconds": time.perf_counter() - began,
        "latencies_ms": latencies,
        "client_cpu_s": time.process_time() - cpu,
    }


async def main() -> None:
    loop = asyncio.get_running_loop()

    async def line() -> dict[str, Any] | None:
        text = await loop.run_in_executor(None, sys.stdin.readline)
        return json.loads(text) if text.strip() else None

    def answer(body: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()

    setup = await line()
    assert setup is not None
    people = [Person(token, setup["port"]) for token in setup["tokens"]]
    streams = [asyncio.create_task(p.follow()) for p in people]
    await asyncio.wait_for(asyncio.gather(*(p.ready.wait() for p in people)), 60)
    answer({"ready": True})
    while (command := await line()) is not None:
        op = command["op"]
        if op == "warmup":
            answer(await closed_loop(people, 0.0))
        elif op == "capacity":
            answer(await closed_loop(people, command["seconds"]))
        elif op == "latency":
            answer(await open_loop(people, command["rate"], command["seconds"]))
        elif op == "whoami":
            answer(await whoami(people[0], command["count"]))
    for stream in streams:
        stream.cancel()


if __name__ == "__main__":
    uvloop.run(main())
