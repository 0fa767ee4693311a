"""Two `cairn worker` processes advance 200 runs of 20 people while being SIGKILLed at chosen
points (between plan and decision, after StepStarted, before an ack) and at random moments:
every run reaches a final state, and each approved action happens exactly once."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from adapters.failpoints import ENV as FAILPOINTS
from adapters.ratelimit import RedisRateLimiter
from adapters.ratelimit.sliding_window import RouteLimit
from api.app import create_app
from api.settings import ServiceUrls
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from commands.settings import CairnSettings
from entrypoints.projector_cli import projection_settings
from projections.engine.projector_host import ProjectorHost
from projections.views.runs.projector import Runs
from tests.e2e.runs.test_intent_lifecycle import SARAH
from tests.support.in_process import Cairn, Person
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e

PEOPLE = 20
RUNS_EACH = 10
FINAL = {"completed", "failed", "denied", "cancelled", "expired"}
# Where a worker kills itself: each worker generation carries one of these, at a random early
# occurrence, until all happened.
KILLS = [
    "after-step:plan",  # planned, nothing stored: the decision not taken yet
    "before-provider-call",  # StepStarted is stored, the provider has not heard of it
    "before-ack:IntentSubmitted",  # carried on to the end, not acknowledged
    "before-ack:PlanProposed",  # a plan saved on the way, skipped, not acknowledged
]
KILLED = re.compile(r"^failpoint (\S+): killing", re.MULTILINE)


class Workers:
    """Worker processes, each started again at once when it dies; the first generations
    carry a failpoint each."""

    def __init__(self, settings: CairnSettings, count: int, logs: Path) -> None:
        self.env = {**os.environ, **settings.as_env(), "CAIRN_WORKER_ACK_WAIT": "2"}
        self.logs = logs
        self.kills = list(KILLS)
        self.processes = [self._spawn(n) for n in range(count)]
        self.deaths = 0

    def _spawn(self, n: int) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        if self.kills:
            env[FAILPOINTS] = f"{self.kills.pop(0)}={random.randint(1, 3)}"
        log = (self.logs / f"worker-{n}-{time.monotonic_ns()}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def keep_alive(self) -> None:
        for n, process in enumerate(self.processes):
            if process.poll() is not None:
                self.deaths += 1
                self.processes[n] = self._spawn(n)

    def kill_one(self) -> None:
        victim = random.choice(self.processes)
        if victim.poll() is None:
            victim.send_signal(signal.SIGKILL)

    def stop(self) -> None:
        # A worker that killed itself after the last look is a death too: the failpoint at its
        # last run's ack can fire once that run is completed, and so after the last poll.
        self.deaths += sum(process.poll() is not None for process in self.processes)
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def failpoints_hit(self) -> list[str]:
        hits: list[str] = []
        for path in self.logs.glob("worker-*.log"):
            hits += KILLED.findall(path.read_text(errors="replace"))
        return hits


@pytest.fixture
def api_only(cairn_settings: CairnSettings, tmp_path: Path) -> Iterator[Cairn]:
    """The API alone: no worker in this process, runs move only in the worker processes."""
    answer = tmp_path / "plan.json"
    answer.write_text(json.dumps(SARAH))
    s = dataclasses.replace(cairn_settings, llm_mock_answer_file=answer)
    urls = ServiceUrls(s.nats_url, s.database_url, s.redis_url, s.nats_monitor_url)
    projectors = ProjectorHost(projection_settings(s), [Runs])  # runs are read from the view
    with TestClient(create_app(urls, settings=s)) as client, projectors:
        cairn = Cairn(client)
        services = cairn.services
        # Twenty sign-ups from one address and a poll of every run: lift the request limits.
        services.rate_limiter = RedisRateLimiter(
            services.redis,
            prefix=f"{s.redis_prefix}:lifted",
            limits={
                "auth": RouteLimit(10_000, 60),
                "command": RouteLimit(10_000, 60),
                "query": RouteLimit(100_000, 60),
            },
        )
        yield cairn


def _person(cairn: Cairn, n: int) -> Person:
    person = cairn.sign_up(f"w{n}", email=f"p{n}@example.com")
    store_provider_key(
        cairn.services.identity.vault,
        uuid.UUID(person.session["tenant_id"]),
        LlmProvider.OPENAI,
        ProviderCredential(api_key=SecretStr("sk-test")),
    )
    return person


def _submit(cairn: Cairn, person: Person, first: int) -> list[str]:
    """Half of the person's runs, numbered from `first`."""
    ids = []
    for i in range(first, first + RUNS_EACH // 2):
        answer = cairn.client.post(
            "/v1/intents",
            headers={**person.headers, "Idempotency-Key": uuid.uuid4().hex},
            json={"text": f"Schedule meeting {i} with Sarah"},
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["run_id"])
    return ids


@pytest.mark.long(63)
def test_killed_workers_lose_no_run_and_act_once(
    api_only: Cairn, provider: FakeProvider, tmp_path: Path
) -> None:
    people = [_person(api_only, n) for n in range(PEOPLE)]
    workers = Workers(api_only.services.settings, 2, tmp_path)
    try:
        # Half of the runs now, half once the last worker with a failpoint started: it must
        # find events of its kind left to stop at, however fast the first half went.
        runs = [(person, _submit(api_only, person, 0)) for person in people]
        later = list(people)
        statuses: dict[str, str] = {}
        deadline = time.monotonic() + 240
        random_kills = 2
        while time.monotonic() < deadline:
            workers.keep_alive()
            if later and not workers.kills:
                runs += [(person, _submit(api_only, person, RUNS_EACH // 2)) for person in later]
                later = []
            # Random kills only once every planned one happened: a random kill of a worker that
            # has not reached its failpoint yet would take that failpoint with it.
            planned_done = len(workers.failpoints_hit()) == len(KILLS)
            if random_kills and planned_done and random.random() < 0.05:
                workers.kill_one()
                random_kills -= 1
            for person, ids in runs:
                for run_id in ids:
                    if statuses.get(run_id) in FINAL:
                        continue
                    got = api_only.client.get(f"/v1/runs/{run_id}", headers=person.headers)
                    statuses[run_id] = got.json().get("status", "not in the view yet")
            if not later and all(statuses.get(r) in FINAL for _, ids in runs for r in ids):
                break
            time.sleep(0.5)
    finally:
        workers.stop()
    hits = workers.failpoints_hit()
    assert len(statuses) == PEOPLE * RUNS_EACH
    assert {s for s in statuses.values()} == {"completed"}, sorted(statuses.values())
    # Every planned kill happened (each worker generation reached its failpoint).
    assert sorted(hits) == sorted(KILLS), hits
    assert workers.deaths >= len(KILLS)
    # Exactly once: one performance per run, each under that run's own key.
    performed = provider.performances
    assert len(performed) == PEOPLE * RUNS_EACH
    assert len({p.idempotency_key for p in performed}) == PEOPLE * RUNS_EACH
