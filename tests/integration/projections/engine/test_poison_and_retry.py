"""A poison event (the handler raises, or the database refuses its rows) is parked with its
error and position; the projector skips it, or stops its aggregate at it (holding back that
aggregate's later events) while every other aggregate goes on; status shows it; retry applies
it and what was held once the cause is fixed, or gives up on it (`skip`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
import pytest
from eventsourcing.application import Application

from domain.event_context import EventContext
from domain.identity.credential import SecurityEvent
from domain.identity.user import User
from projections.engine import operations
from projections.engine.event_source import EventSource
from projections.engine.projector_base import Projector, Writes, handles
from projections.engine.projector_host import ProjectorHost
from projections.settings import ProjectionSettings
from tests.integration.projections.support import admin

pytestmark = pytest.mark.integration

TENANT = uuid.uuid4()
USER = "domain.identity.user:User."


class Ledger(Projector):
    name = "test_ledger"
    tables = ("test_ledger",)
    schema_sql = (
        "CREATE TABLE {test_ledger} (tenant_id uuid NOT NULL, position bigint PRIMARY KEY,"
        " kind text NOT NULL CHECK (kind <> 'refused'))"
    )
    # What the handler cannot project yet; a test "fixes the cause" by emptying it.
    broken: ClassVar[set[str]] = set()

    @handles("domain.identity.credential:SecurityEvent.SecurityEventRecorded")
    def recorded(self, event: Any, position: int, writes: Writes) -> None:
        if event.kind in self.broken:
            raise ValueError(f"cannot project a {event.kind!r} event")
        kind = "accepted-later" if event.kind == "refused" and not self.broken else event.kind
        writes.execute(
            self.sql("INSERT INTO {test_ledger} VALUES (%s, %s, %s)"),
            (event.tenant_id, position, kind),
        )


def _save(store: Application[uuid.UUID], *kinds: str) -> list[int]:
    facts = [SecurityEvent(kind, TENANT, None, None, "succeeded", {}) for kind in kinds]
    context = EventContext(tenant=str(TENANT))
    return [r.notification.id for r in store.save(*facts, context=context)]


def _until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _kinds(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute("SELECT kind FROM test_ledger ORDER BY position").fetchall()
    return [str(r[0]) for r in rows]


def _letters(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return list(
        conn.execute(
            "SELECT position, status, error FROM projection_dead_letters ORDER BY position"
        ).fetchall()
    )


def test_skip_parks_and_goes_on_then_retry_applies_them(
    store: Application[uuid.UUID], settings: ProjectionSettings, source: EventSource
) -> None:
    Ledger.broken = {"poison"}
    skip = ProjectionSettings(
        settings.database_url, settings.event_store_env, on_error={Ledger.name: "skip"}
    )
    positions = _save(store, "a", "poison", "b", "refused", "c")
    with ProjectorHost(skip, [Ledger]) as host, admin(settings.database_url) as conn:
        worker = host.workers[Ledger.name]
        _until(lambda: worker.position == positions[-1], "the end")
        assert _kinds(conn) == ["a", "b", "c"]
        letters = _letters(conn)
        assert [(p, s) for p, s, _ in letters] == [
            (positions[1], "parked"),
            (positions[3], "parked"),
        ]
        assert "ValueError: cannot project a 'poison' event" in letters[0][2]
        assert "check constraint" in letters[1][2]  # refused by PostgreSQL, found one by one
        (status,) = operations.status(skip, source, [Ledger])
        assert [d.position for d in status.parked] == [positions[1], positions[3]]
        assert status.holds == [] and status.running and status.lag_events == 0

        Ledger.broken = set()  # the fix is deployed
        report = operations.retry(skip, source, Ledger)
        assert report.resolved == [positions[1], positions[3]] and not report.failed
        assert sorted(_kinds(conn)) == ["a", "accepted-later", "b", "c", "poison"]
        assert [s for _, s, _ in _letters(conn)] == ["resolved", "resolved"]
        # Retrying again changes nothing: each parked event is applied once.
        assert operations.retry(skip, source, Ledger).resolved == []
        assert len(_kinds(conn)) == 5


class Grants(Projector):
    """Each user's grants in order: a handler that fails for a capability in `broken`, and
    rows PostgreSQL refuses for a capability ending in `.refused`."""

    name = "test_grants"
    tables = ("test_grants",)
    schema_sql = (
        "CREATE TABLE {test_grants} (tenant_id uuid NOT NULL, user_id uuid PRIMARY KEY,"
        " grants text NOT NULL CHECK (grants NOT LIKE '%%.refused%%'))"
    )
    broken: ClassVar[set[str]] = set()

    @handles(USER + "UserRegistered")
    def registered(self, event: Any, position: int, writes: Writes) -> None:
        writes.execute(
            self.sql("INSERT INTO {test_grants} VALUES (%s, %s, '')"),
            (event.tenant_id, event.originator_id),
        )

    @handles(USER + "CapabilityGranted")
    def granted(self, event: Any, position: int, writes: Writes) -> None:
        if event.capability in self.broken:
            raise ValueError(f"cannot project {event.capability}")
        writes.execute(
            self.sql("UPDATE {test_grants} SET grants = grants || ' ' || %s WHERE user_id = %s"),
            (event.capability, event.originator_id),
        )


def _register(store: Application[uuid.UUID], tenant: uuid.UUID) -> User:
    user = User(uuid.uuid4(), tenant, "sealed", "sealed", [])
    store.save(user, context=EventContext(tenant=str(tenant)))
    return user


def _grant(store: Application[uuid.UUID], user: User, *capabilities: str) -> list[int]:
    for capability in capabilities:
        user.grant(capability, "admin")
    recordings = store.save(user, context=EventContext(tenant=str(user.tenant_id)))
    return [r.notification.id for r in recordings]


def _grants(conn: psycopg.Connection[Any], user: User) -> str | None:
    row = conn.execute("SELECT grants FROM test_grants WHERE user_id = %s", (user.id,)).fetchone()
    return None if row is None else str(row[0]).strip()


def _open(conn: psycopg.Connection[Any]) -> list[tuple[int, str]]:
    rows = conn.execute(
        "SELECT position, status FROM projection_dead_letters"
        " WHERE status IN ('parked', 'held') ORDER BY position"
    ).fetchall()
    return [(int(p), str(s)) for p, s in rows]


def test_stop_holds_only_the_poison_events_aggregate_and_retry_catches_it_up(
    store: Application[uuid.UUID], settings: ProjectionSettings, source: EventSource
) -> None:
    Grants.broken = {"cap.poison"}
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    ann, amy, bob = (
        _register(store, tenant_a),
        _register(store, tenant_a),
        _register(store, tenant_b),
    )
    poison, later = _grant(store, ann, "cap.poison", "cap.later")
    _grant(store, bob, "cap.fine")
    end = _grant(store, amy, "cap.ok")[-1]
    with ProjectorHost(settings, [Grants]) as host, admin(settings.database_url) as conn:
        worker = host.workers[Grants.name]
        _until(lambda: worker.position == end, "the end of the store")
        # Ann stopped at the poison event; Amy (same tenant) and Bob (another) went on.
        assert (_grants(conn, ann), _grants(conn, amy), _grants(conn, bob)) == (
            "",
            "cap.ok",
            "cap.fine",
        )
        assert _open(conn) == [(poison, "parked"), (later, "held")]
        # Events arriving now: Bob's are applied at once, Ann's are held behind the poison.
        newer = _grant(store, ann, "cap.newer")[0]
        last = _grant(store, bob, "cap.new")[-1]
        _until(lambda: worker.position == last, "the new events")
        assert _grants(conn, bob) == "cap.fine cap.new" and _grants(conn, ann) == ""
        (status,) = operations.status(settings, source, [Grants])
        assert [d.position for d in status.parked] == [poison]
        assert [(h.originator_id, h.position, h.held) for h in status.holds] == [
            (str(ann.id), poison, 2)
        ]
        assert status.lag_events == 0 and status.running

        # Still broken: retry fails again, nothing of Ann's is applied.
        again = operations.retry(settings, source, Grants)
        assert list(again.failed) == [poison] and not again.resolved
        assert _open(conn) == [(poison, "parked"), (later, "held"), (newer, "held")]

        Grants.broken = set()  # the fix is deployed
        report = operations.retry(settings, source, Grants)
        assert report.resolved == [poison, later, newer] and not report.failed
        assert _grants(conn, ann) == "cap.poison cap.later cap.newer"
        assert _open(conn) == [] and operations.status(settings, source, [Grants])[0].holds == []
        # The worker follows Ann again (its held set is reloaded after the release).
        final = _grant(store, ann, "cap.after")[0]
        _until(lambda: worker.position == final, "the worker to go on")
        _until(lambda: _grants(conn, ann) == "cap.poison cap.later cap.newer cap.after", "Ann")
        assert operations.retry(settings, source, Grants).resolved == []


def test_refused_rows_hold_their_aggregate_and_a_skipped_event_lets_the_rest_follow(
    store: Application[uuid.UUID], settings: ProjectionSettings, source: EventSource
) -> None:
    Grants.broken = set()
    ann, bob = _register(store, uuid.uuid4()), _register(store, uuid.uuid4())
    refused, held = _grant(store, ann, "cap.refused", "cap.later")
    end = _grant(store, bob, "cap.fine")[0]
    with ProjectorHost(settings, [Grants]) as host, admin(settings.database_url) as conn:
        worker = host.workers[Grants.name]
        _until(lambda: worker.position == end, "the end of the store")
        assert _grants(conn, ann) == "" and _grants(conn, bob) == "cap.fine"
        assert _open(conn) == [(refused, "parked"), (held, "held")]
        # No code can store this one: give up on it, and what waited behind it follows.
        report = operations.retry(settings, source, Grants, skip=[refused])
        assert report.skipped == [refused] and report.resolved == [held]
        assert _grants(conn, ann) == "cap.later" and _open(conn) == []
        status = conn.execute(
            "SELECT status FROM projection_dead_letters WHERE position = %s", (refused,)
        ).fetchone()
        assert status == ("skipped",)
