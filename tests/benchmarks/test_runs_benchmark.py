"""Runs benchmark: intent-to-completed latency with the mocked model at 50 concurrent users,
beside a bare FastAPI endpoint on the same server in the same run. Writes docs/benchmarks/runs.md.

Policy decisions per second with 200 policies are measured by test_policy_benchmark.py
(docs/benchmarks/policy.md).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from adapters.llm.gateway import LiteLLMGateway
from adapters.llm.mock import MockAnswer
from adapters.llm.planner import LiteLLMPlanner
from adapters.ratelimit import RedisRateLimiter, RouteLimit
from clients.projector_cli import projection_settings
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from infra.stack import StackEndpoints
from projections.host import ProjectorHost
from projections.runs import Runs
from tests.benchmarks import report
from tests.benchmarks.workloads import Measurement
from tests.e2e.push.harness import LiveCairn, Member
from tests.support.cairn_client import isolated_settings
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.benchmark

USERS = int(os.environ.get("CAIRN_BENCH_USERS", "50"))
INTENTS_PER_USER = int(os.environ.get("CAIRN_BENCH_INTENTS", "4"))
NOTE = {
    "summary": "A note",
    "steps": [
        {
            "step_id": "s1",
            "action": "notes.create",
            "provider": "local",
            "parameters": {"title": "t", "body": "b"},
        }
    ],
}


def _timed_concurrently(users: list[Member], work: Any) -> Measurement:
    latencies: list[float] = []
    lock = threading.Lock()

    def one(member: Member) -> None:
        with httpx.Client(base_url=live.base_url, timeout=60) as http:
            for _ in range(INTENTS_PER_USER):
                began = time.perf_counter()
                work(http, member)
                with lock:
                    latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    threads = [threading.Thread(target=one, args=(m,)) for m in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Measurement("", len(latencies), time.perf_counter() - began, latencies)


def _intent_to_completed(http: httpx.Client, member: Member) -> None:
    accepted = http.post(
        "/v1/intents",
        json={"text": "note: buy milk"},
        headers={**member.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert accepted.status_code == 202, accepted.text
    run_id, after = accepted.json()["run_id"], {"after": accepted.json()["position"]}
    while True:
        # The runs view, at least as far as the submission (read-your-writes).
        found = http.get(f"/v1/runs/{run_id}", headers=member.headers, params=after)
        status = found.json()["status"]
        if status in ("completed", "failed", "denied", "expired"):
            assert status == "completed"
            return
        time.sleep(0.01)


def _bare(http: httpx.Client, member: Member) -> None:
    assert http.get("/healthz").status_code == 200


live: LiveCairn


def test_intent_to_completed_latency(
    stack: StackEndpoints, fresh_database_url: str, unique_name: str, tmp_path: Path
) -> None:
    global live
    with FakeProvider() as provider:
        settings = isolated_settings(
            stack,
            fresh_database_url,
            unique_name,
            tmp_path,
            provider_urls={"local": provider.base_url},
        )
        live = LiveCairn(settings).start()
        projectors = ProjectorHost(projection_settings(settings), [Runs]).start()
        try:
            services = live.services
            # The benchmark signs up many people from one address: lift the auth limit.
            services.rate_limiter = RedisRateLimiter(
                services.redis,
                prefix=f"{unique_name}:rl",
                limits={
                    "auth": RouteLimit(10_000, 60),
                    "command": RouteLimit(10_000, 60),
                    "query": RouteLimit(100_000, 60),
                },
            )
            gateway = LiteLLMGateway(lambda model: MockAnswer.text(json.dumps(NOTE)))
            gateway.warm_up()
            assert live.worker is not None
            worker = live.worker.runs
            worker.ports = dataclasses.replace(
                worker.ports, planner=LiteLLMPlanner(gateway=gateway)
            )
            users = [live.sign_up(f"b{unique_name[:20]}{i}") for i in range(USERS)]
            for member in users:
                store_provider_key(
                    services.identity.vault,
                    uuid.UUID(member.tenant),
                    LlmProvider.OPENAI,
                    ProviderCredential(api_key=SecretStr("sk-bench")),
                )
            runs = _timed_concurrently(users, _intent_to_completed)
            bare = _timed_concurrently(users, _bare)
        finally:
            projectors.stop()
            live.stop()
    runs = dataclasses.replace(runs, name=f"intent -> completed, {USERS} users")
    bare = dataclasses.replace(bare, name=f"bare GET /healthz, {USERS} users (reference)")
    body = [
        f"{USERS} people, each submitting {INTENTS_PER_USER} intents one after another, all at "
        "once, through real HTTP (uvicorn) on the local stack: litellm's mock response proposes "
        "a one-step note plan, Cedar approves it, the executor creates the note at a local fake "
        "provider, and the client polls `GET /v1/runs/{id}` (the runs view) until `completed`. "
        "The reference is a bare FastAPI endpoint on the same server in the same run.",
        "",
        *report.table([runs, bare]),
        "",
        f"p50 ratio to the bare endpoint: {runs.p50 / bare.p50:.1f} x; "
        f"p99 ratio: {runs.p99 / bare.p99:.1f} x. Policy decisions/s with 200 policies: "
        "see policy.md.",
    ]
    path = report.write("runs.md", "Runs benchmark", body)
    print(path.read_text())
    assert runs.events == USERS * INTENTS_PER_USER
