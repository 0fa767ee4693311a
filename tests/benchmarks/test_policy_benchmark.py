"""Policy benchmark: Cairn's Cedar engine beside plain cedarpy calls, with 200 policies, in one
run on one machine. Writes docs/benchmarks/policy.md. Single thread: a decision holds the GIL.

Scale with CAIRN_BENCH_SCALE (default 1.0).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import cedarpy
import pytest

from adapters.policy import cedar
from adapters.policy.defaults import DEFAULT_POLICIES
from adapters.policy.engine import CedarPolicyEngine
from adapters.policy.schema import SCHEMA_TEXT
from domain.policy.model import Decision, Outcome, Principal
from domain.runs.plan import Plan
from tests.benchmarks import report
from tests.benchmarks.workloads import Measurement

pytestmark = pytest.mark.benchmark

SCALE = float(os.environ.get("CAIRN_BENCH_SCALE", "1.0"))
POLICY_COUNT = 200
CACHED_DECISIONS = max(200, int(3000 * SCALE))
NAIVE_DECISIONS = max(20, int(300 * SCALE))
NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
PRINCIPAL = Principal(tenant_id="acme", user_id="user-1", device_id="phone")
CAPABILITIES = ["calendar.write", "email.send", "payments.up_to:50"]


def two_hundred_policies() -> str:
    """The defaults plus generated ones of the shapes tenants write: per-person permits,
    blocked recipients, per-payee caps and lost devices."""
    shapes = [
        'forbid (principal, action == Action::"email.send", resource) '
        'when {{ context.recipients.contains("blocked{i}@example.com") }};',
        'permit (principal == User::"user-{i}", action == Action::"notes.create", resource) '
        "when {{ context.local_hour >= 8 }};",
        'forbid (principal, action == Action::"payments.send", resource) '
        'when {{ context.recipients.contains("payee{i}") && context.amount_cents > {i}00 }};',
        "forbid (principal, action, resource) "
        'when {{ context has device && context.device == Device::"lost-{i}" }};',
    ]
    generated: list[str] = []
    i = 0
    while DEFAULT_POLICIES.count("@id(") + len(generated) < POLICY_COUNT:
        generated.append(f'@id("generated.{i}")\n' + shapes[i % len(shapes)].format(i=i))
        i += 1
    return DEFAULT_POLICIES + "\n" + "\n".join(generated) + "\n"


def plan_of(*steps: dict[str, Any]) -> Plan:
    numbered = [{"step_id": f"s{i}", **step} for i, step in enumerate(steps, start=1)]
    return Plan.model_validate({"summary": "bench", "steps": numbered})


PAYMENT = {
    "action": "payments.send",
    "provider": "stripe",
    "parameters": {"recipient": "payee7", "amount": "80.00", "currency": "EUR"},
}
EVENT = {
    "action": "calendar.create_event",
    "provider": "google",
    "parameters": {
        "title": "Meeting with Sarah",
        "start": "2026-03-10T14:00:00+01:00",
        "end": "2026-03-10T15:00:00+01:00",
        "attendees": ["sarah@example.com"],
    },
}
EMAIL = {
    "action": "email.send",
    "provider": "gmail",
    "parameters": {"to": ["bob@example.com"], "subject": "Hi", "body": "Hello"},
}


def timed(name: str, count: int, decide_once: Callable[[], object]) -> Measurement:
    latencies: list[float] = []
    began = time.perf_counter()
    for _ in range(count):
        start = time.perf_counter()
        decide_once()
        latencies.append((time.perf_counter() - start) * 1000)
    return Measurement(name, count, time.perf_counter() - began, latencies)


def test_policy_decision_throughput() -> None:
    policies = two_hundred_policies()
    # Cedar asked on every decision; `cached` answers repeats from its cache (decision 0046).
    engine, cached = CedarPolicyEngine(answers_cache_size=0), CedarPolicyEngine()
    cached.accept(policies)
    began = time.perf_counter()
    engine.accept(policies)  # validate + parse once; every decision below hits the cache
    compile_ms = (time.perf_counter() - began) * 1000
    assert len(cedarpy.PolicySet.from_str(policies)) == POLICY_COUNT

    one_step, three_steps = plan_of(PAYMENT), plan_of(EVENT, EMAIL, PAYMENT)

    def evaluate(plan: Plan, text: str = policies) -> Decision:
        return engine.evaluate(plan, PRINCIPAL, CAPABILITIES, lambda: NOON, text)

    reference = evaluate(one_step)
    assert reference.outcome is Outcome.ESCALATE  # 80.00 is above the 50 limit

    # The same Cedar requests, straight into cedarpy: parsed handles, and text re-parsed per call.
    requests = cedar.requests(reference.input)
    entities = cedar.entities(reference.input)
    policy_set = cedarpy.PolicySet.from_str(policies)
    schema = cedarpy.Schema.from_str(SCHEMA_TEXT)

    def raw_batch() -> list[cedarpy.AuthzResult]:
        return cedarpy.is_authorized_batch(requests, policy_set, entities, schema=schema)

    def naive() -> list[cedarpy.AuthzResult]:
        return [cedarpy.is_authorized(r, policies, entities, schema=SCHEMA_TEXT) for r in requests]

    # The shortcuts decide exactly what the engine decided.
    expected = [reference.steps[0].autonomous.allowed, reference.steps[0].with_approval.allowed]
    assert [r.allowed for r in raw_batch()] == expected == [r.allowed for r in naive()]

    rows = [
        timed("(a) Cairn evaluate, 1-step plan", CACHED_DECISIONS, lambda: evaluate(one_step)),
        timed(
            "(a) Cairn evaluate, 3-step plan",
            CACHED_DECISIONS // 3,
            lambda: evaluate(three_steps),
        ),
        timed(
            f"(a) Cairn evaluate, 1-step plan, only the {DEFAULT_POLICIES.count('@id(')} defaults",
            CACHED_DECISIONS,
            lambda: evaluate(one_step, DEFAULT_POLICIES),
        ),
        timed(
            "(a) Cairn evaluate, 1-step plan, the same input again: Cedar's answers cached",
            CACHED_DECISIONS,
            lambda: cached.evaluate(one_step, PRINCIPAL, CAPABILITIES, lambda: NOON, policies),
        ),
        timed(
            "(a) Cairn replay of a recorded 1-step input",
            CACHED_DECISIONS,
            lambda: engine.replay(reference.input),
        ),
        timed("(b) raw cedarpy batch, parsed handles, 1 step", CACHED_DECISIONS, raw_batch),
        timed("(c) naive cedarpy.is_authorized, text per call, 1 step", NAIVE_DECISIONS, naive),
    ]
    cairn, *_, raw, naive_row = rows
    speedup = cairn.events_per_second / naive_row.events_per_second
    body = [
        f"{POLICY_COUNT} policies (the {DEFAULT_POLICIES.count('@id(')} defaults plus generated "
        "per-person permits, blocked recipients, per-payee caps and lost devices), validated "
        "against the schema. A decision asks Cedar twice per step (autonomous, with approval). "
        "One thread; `events` below are decisions.",
        "",
        f"Versions: {report.versions('cedarpy', 'pydantic')}. Scale: CAIRN_BENCH_SCALE={SCALE}.",
        "",
        "- (a) `CedarPolicyEngine.evaluate`: plan -> recorded `DecisionInput` (one clock read) "
        "-> one `is_authorized_batch` against the cached policy set sliced to the plan's "
        "actions (the 1-step payment plan sees "
        f"{len(engine.compile(policies).for_actions(['payments.send']))} of {POLICY_COUNT}) "
        "-> `Decision`. The replay row decides an already recorded input. Cedar is asked on "
        "every decision except in the cached row, where the engine answers a repeated input "
        "(same person, plan, hour and policy version) from its cache of Cedar's answers.",
        "- (b) the same requests into `cedarpy.is_authorized_batch` with pre-parsed handles of "
        "the whole set: plain Cedar, no slicing, no recording.",
        "- (c) `cedarpy.is_authorized` with the policy and schema text on every call (re-parsed).",
        "",
        *report.table(rows),
        "",
        f"Validating and parsing the {POLICY_COUNT}-policy text once (a cache miss): "
        f"{compile_ms:.1f} ms.",
        f"Cairn's 1-step evaluate is {speedup:.1f}x the naive re-parsing path (c). Beside plain "
        f"cedarpy (b): p50 {cairn.p50:.2f} ms against {raw.p50:.2f} ms; slicing the set to the "
        "plan's actions roughly pays for building, checking and recording the input.",
    ]
    path = report.write("policy.md", "Policy decision benchmark", body)
    print(path.read_text())
    assert cairn.events_per_second > naive_row.events_per_second
