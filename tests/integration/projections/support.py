"""Shared by the projection tests and benchmark: settings on a test's own stream and database,
fast generation of real identity events, and row-for-row comparison of two generations."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from psycopg import sql

from domain.event_context import EventContext
from domain.identity.capabilities import TENANT_ADMIN
from domain.identity.credential import SecurityEvent
from domain.identity.user import User
from domain.runs.plan import Plan
from domain.runs.run import FINAL, Run, RunStatus
from infra.stack.launcher import StackEndpoints
from projections.engine.projector_base import Projector, physical_table
from projections.engine.view_reads import Reader
from projections.settings import ProjectionSettings
from tests.support.calendar_events import calendar_activity
from tests.support.context_events import context_activity

NOTE_PLAN = Plan.model_validate(
    {
        "summary": "n",
        "steps": [
            {
                "step_id": "s1",
                "action": "notes.create",
                "provider": "local",
                "parameters": {"title": "t", "body": "b"},
            }
        ],
    }
)
MAX_SAVE = 500  # events per save: well under JetStream's 1,000 messages per atomic batch


def event_store_env(stack: StackEndpoints, name: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "adapters.jetstream",
        "NATS_URL": stack.nats_url,
        "NATS_MONITOR_URL": stack.nats_monitor_url or "",
        "NATS_STREAM": name,
        "NATS_SUBJECT_PREFIX": name,
    }


def cairn_env(stack: StackEndpoints, database_url: str, name: str) -> dict[str, str]:
    """The environment of a `cairn projector ...` process on this test's stream and database."""
    env = {
        **stack.as_env(),
        "CAIRN_DATABASE_URL": database_url,
        "CAIRN_STREAM": name,
        "CAIRN_SUBJECT_PREFIX": name,
    }
    return env


def projection_settings(
    stack: StackEndpoints, database_url: str, name: str, **kwargs: Any
) -> ProjectionSettings:
    return ProjectionSettings(database_url, event_store_env(stack, name), **kwargs)


@dataclass
class Generator:
    """Real identity events (User and SecurityEvent aggregates) for a few tenants, saved in
    large batches: registrations, devices, passkeys, capabilities, erasures, security facts."""

    app: Application[uuid.UUID]
    tenants: list[uuid.UUID] = field(default_factory=lambda: [uuid.uuid4(), uuid.uuid4()])
    seed: int = 7
    users: dict[uuid.UUID, list[User]] = field(default_factory=dict)
    runs: dict[uuid.UUID, list[Run]] = field(default_factory=dict)
    written: int = 0
    # With a database, context activity too: its payloads go there first (tests/support).
    database_url: str | None = None
    memories: dict[uuid.UUID, list[Aggregate]] = field(default_factory=dict)
    feeds: dict[uuid.UUID, list[Aggregate]] = field(default_factory=dict)
    # During a batch (with a database): where context_activity writes the payloads, in one
    # transaction committed before the batch's events are saved (one commit, not thousands).
    payloads: psycopg.Connection[Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.users = {tenant: [] for tenant in self.tenants}
        # The users not erased, in the order of `users` (kept, not filtered per event).
        self.live: dict[uuid.UUID, list[User]] = {tenant: [] for tenant in self.tenants}

    def _one(self, tenant: uuid.UUID, n: int) -> Aggregate | list[Aggregate]:
        users, live = self.users[tenant], self.live[tenant]
        kind = self.random.random()
        if kind < 0.25 or not live:
            user = User(uuid.uuid4(), tenant, "sealed-name", "sealed-email", ["calendar.read"])
            users.append(user)
            live.append(user)
            return user
        if 0.47 <= kind < 0.55:
            return self._run_activity(tenant, n)
        if 0.40 <= kind < 0.47 and self.database_url is not None:
            return context_activity(self, tenant, n)
        if 0.36 <= kind < 0.40:
            return calendar_activity(self, tenant, n)
        if kind < 0.55:
            return SecurityEvent(
                "login", tenant, self.random.choice(users).id, f"d{n}", "succeeded", {"n": n}
            )
        user = self.random.choice(live)
        if kind < 0.65:
            user.register_device(f"d{n}", "phone")
        elif kind < 0.72 and any(not d["revoked"] for d in user.devices.values()):
            device = next(k for k, d in user.devices.items() if not d["revoked"])
            user.revoke_device(device, "lost")
        elif kind < 0.80:
            user.add_passkey(f"c{n}", "key", 0, "aaguid", True, "key")
        elif kind < 0.90:
            user.grant(f"cap.c{n % 7}", "admin")
        elif kind < 0.96 and "calendar.read" in user.capabilities:
            user.revoke("calendar.read", "admin")
        elif kind > 0.995:
            user.erase("admin")
            live.remove(user)
        elif user.totp_secret_ref is None:
            user.enable_totp("ref")
        return user

    def _run_activity(self, tenant: uuid.UUID, n: int) -> Aggregate:
        """A new run, or the next step of an open one (so the runs view gets every kind)."""
        runs = self.runs.setdefault(tenant, [])
        open_runs = [r for r in runs if r.status not in FINAL]
        if not open_runs or self.random.random() < 0.3:
            run = Run(uuid.uuid4(), f"intent {n}", str(uuid.uuid4()), None, "app", tenant_id=tenant)
            runs.append(run)
            return run
        run = self.random.choice(open_runs)
        if run.status is RunStatus.SUBMITTED:
            run.propose_plan(NOTE_PLAN.model_dump(mode="json"), NOTE_PLAN.plan_hash(), {})
        elif run.status is RunStatus.PLANNED and run.decision is None:
            outcome = self.random.choice(["APPROVE", "DENY", "ESCALATE"])
            run.decide(outcome, {"n": n}, NOTE_PLAN.plan_hash())
        elif run.status is RunStatus.PLANNED:
            run.request_escalation(datetime(2030, 1, 1, tzinfo=UTC))
        elif run.status is RunStatus.ESCALATED:
            run.approve_escalation(
                NOTE_PLAN.plan_hash(), "u", "c", {}, datetime(2029, 1, 1, tzinfo=UTC)
            )
        elif run.status is RunStatus.APPROVED:
            run.start_step("s1")
        else:
            run.succeed_step("s1", {"n": n})
            run.complete()
        return run

    def batch(self, events: int) -> int:
        """Save about `events` new events of one tenant in one append; returns the position."""
        tenant = self.tenants[self.written // MAX_SAVE % len(self.tenants)]
        touched: dict[uuid.UUID, Aggregate] = {}
        counted: dict[uuid.UUID, int] = {}  # pending events of each aggregate, last counted
        pending = 0
        with self._payloads_transaction():
            while pending < min(events, MAX_SAVE):
                made = self._one(tenant, self.written + pending)
                for aggregate in made if isinstance(made, list) else [made]:
                    touched[aggregate.id] = aggregate
                    now = len(aggregate.pending_events)
                    pending += now - counted.get(aggregate.id, 0)
                    counted[aggregate.id] = now
        context = EventContext(tenant=str(tenant), actor="generator")
        recordings = self.app.save(*touched.values(), context=context)
        self.written += pending
        return max(r.notification.id for r in recordings)

    @contextmanager
    def _payloads_transaction(self) -> Iterator[None]:
        if self.database_url is None:
            yield
            return
        with psycopg.connect(self.database_url) as conn:  # commits on leaving
            self.payloads = conn
            try:
                yield
            finally:
                self.payloads = None

    def write(self, events: int) -> int:
        position = 0
        while self.written < events:
            position = self.batch(events - self.written)
        return position


@contextmanager
def admin(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """As the test's login (a superuser here): sees every row, whatever RLS says."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def rows_of(
    conn: psycopg.Connection[Any], cls: type[Projector], generation: int, table: str
) -> list[tuple[Any, ...]]:
    ident = sql.Identifier(physical_table(table, generation))
    # Ties of the first two columns (tables not led by their key) in a total order too.
    query = sql.SQL("SELECT * FROM {} t ORDER BY 1, 2, t::text").format(ident)
    return list(conn.execute(query).fetchall())


def differences(
    conn: psycopg.Connection[Any], cls: type[Projector], one: int, other: int
) -> dict[str, tuple[int, int, int]]:
    """Per table: (rows in `one`, rows in `other`, rows that differ), comparing row i of
    each (both are in primary-key order)."""
    found: dict[str, tuple[int, int, int]] = {}
    for table in cls.tables:
        a, b = rows_of(conn, cls, one, table), rows_of(conn, cls, other, table)
        differ = sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))
        found[table] = (len(a), len(b), differ)
    return found


def admin_reader(tenant_id: UUID) -> Reader:
    """A tenant admin asking the directory queries (which check the capability)."""
    return Reader(tenant_id, "tenant-admin", (TENANT_ADMIN,))
