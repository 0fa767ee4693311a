"""What a decision reads besides its run, against a real nats-server (decision 0051): the
person's capabilities and both policy layers as stored at that moment, whichever process
changed them, however few requests it takes to find out."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast
from uuid import UUID, uuid4

import pytest

from adapters.jetstream import Factory
from adapters.policy.defaults import DEFAULT_POLICIES, HOUSEHOLD_DEFAULTS
from adapters.policy.engine import CedarPolicyEngine
from commands.identity.context import IdentityApplication, IdentityPorts
from commands.ports.planner import ContextProvider, Planner
from commands.runs.pipeline import PipelinePorts, decide
from commands.runs.policies import RunsApplication
from domain.identity.user import User
from domain.policy.model import policy_version
from domain.runs.policies import HouseholdGuardrails, PolicySet
from domain.runs.run import Run
from tests.integration.adapters.jetstream.conftest import stream_env
from tests.unit.domain.runs.test_run import PLAN

pytestmark = pytest.mark.integration

NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
NO_CALENDAR = (
    '\n@id("no-calendar")\n'
    'forbid (principal, action == Action::"calendar.create_event", resource);\n'
)
NO_CALENDAR_HOUSEHOLD = (
    '\n@id("household.no-calendar")\n'
    'forbid (principal, action == Action::"calendar.create_event", resource);\n'
)


class Process:
    """The applications one process would have: each its own NATS connection."""

    def __init__(self, env: dict[str, str]) -> None:
        self.runs = RunsApplication(env=env)
        self.identity = IdentityApplication(env=env)

    def close(self) -> None:
        self.runs.close()
        self.identity.close()


@pytest.fixture
def processes(
    nats_url: str, nats_monitor_url: str, unique_name: str
) -> Iterator[Callable[[], Process]]:
    env = stream_env(nats_url, nats_monitor_url, unique_name)
    made: list[Process] = []

    def make() -> Process:
        made.append(Process(env))
        return made[-1]

    yield make
    for process in made:
        factory = process.runs.factory
        assert isinstance(factory, Factory)
        for stream in (unique_name, f"{unique_name}_aggregates"):
            with contextlib.suppress(Exception):
                factory.client.api(f"STREAM.DELETE.{stream}")
        process.close()


@pytest.fixture(scope="module")
def engine() -> CedarPolicyEngine:
    return CedarPolicyEngine()


def worker_ports(process: Process, engine: CedarPolicyEngine) -> PipelinePorts:
    unused: Any = None  # planning, the vault and passkeys: no decision touches them
    identity = IdentityPorts(process.identity, unused, unused, unused, unused, unused, unused)
    return PipelinePorts(
        runs=process.runs,
        identity=identity,
        planner=cast(Planner, unused),
        policy=engine,
        context=cast(ContextProvider, unused),
        clock=lambda: NOON,
    )


def decided(ports: PipelinePorts, tenant_id: UUID, user_id: UUID) -> str:
    """The outcome of deciding a new run's calendar plan (PLAN: one event with Sarah)."""
    run = Run(uuid4(), "Meet Sarah", str(user_id), "device-1", "app", tenant_id=tenant_id)
    run.propose_plan(PLAN.model_dump(mode="json"), PLAN.plan_hash(), {})
    decide(run, tenant_id, ports)
    assert run.decision is not None
    return str(run.decision["outcome"])


def signed_up(process: Process, tenant_id: UUID, capabilities: list[str]) -> User:
    user = User(uuid4(), tenant_id, "sealed-name", "sealed-email", capabilities)
    process.identity.save(user)
    return user


class Approved(NamedTuple):
    api: Process
    ports: PipelinePorts
    tenant_id: UUID
    user: User


@pytest.fixture
def approved(processes: Callable[[], Process], engine: CedarPolicyEngine) -> Approved:
    """A person with `calendar.write` saved by one process (the API's) and a first decision
    of theirs approved by another (a worker's), which knows them from then on."""
    api, worker = processes(), processes()
    tenant_id = uuid4()
    user = signed_up(api, tenant_id, ["calendar.write"])
    ports = worker_ports(worker, engine)
    assert decided(ports, tenant_id, user.id) == "APPROVE"
    return Approved(api, ports, tenant_id, user)


def test_a_revoked_capability_applies_to_the_next_decision(approved: Approved) -> None:
    api, ports, tenant_id, user = approved
    assert decided(ports, tenant_id, user.id) == "APPROVE"  # from what this process knows

    user.revoke("calendar.write", "admin")
    api.identity.save(user)
    assert decided(ports, tenant_id, user.id) == "ESCALATE"

    # Unrelated changes (a passkey used) change nothing, and a grant applies at once too.
    user.add_passkey("cred-1", "public-key", 0, "aaguid", False, "laptop")
    user.record_passkey_use("cred-1", 1)
    user.grant("calendar.write", "admin")
    api.identity.save(user)
    assert decided(ports, tenant_id, user.id) == "APPROVE"


def test_a_capability_is_never_taken_from_another_tenants_person(approved: Approved) -> None:
    _, ports, _, user = approved
    with pytest.raises(Exception, match="no such user"):
        decided(ports, uuid4(), user.id)


def test_a_policy_change_applies_to_the_next_decision(approved: Approved) -> None:
    api, ports, tenant_id, user = approved

    text = DEFAULT_POLICIES + NO_CALENDAR
    person = PolicySet(tenant_id, str(user.id), text, policy_version(text), str(user.id))
    api.runs.save(person)
    assert decided(ports, tenant_id, user.id) == "DENY"

    person.change(DEFAULT_POLICIES, policy_version(DEFAULT_POLICIES), str(user.id), None)
    api.runs.save(person)
    assert decided(ports, tenant_id, user.id) == "APPROVE"


def test_a_guardrails_change_applies_to_the_next_decision(approved: Approved) -> None:
    api, ports, tenant_id, user = approved

    text = HOUSEHOLD_DEFAULTS + NO_CALENDAR_HOUSEHOLD
    household = HouseholdGuardrails(tenant_id, text, policy_version(text), "admin", None)
    api.runs.save(household)
    assert decided(ports, tenant_id, user.id) == "DENY"
    # Another household's decisions are not touched by it.
    neighbour = signed_up(api, uuid4(), ["calendar.write"])
    assert decided(ports, neighbour.tenant_id, neighbour.id) == "APPROVE"
