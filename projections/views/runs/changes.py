"""One run event's change to its row of the runs view, and the fewest statements that make
several of them (`Writes.merge`).

A run's events often reach the projector in one batch: the worker stores `PlanProposed`,
`PolicyDecided` and `StepStarted` in one atomic save, often with the run's `IntentSubmitted`
still unread. Written one by one they cost a statement each (six a run); merged, a batch writes
each run's row once: an INSERT with the row as its events leave it, or one UPDATE whose columns
take the last value set, whose timeline gets every entry, and whose steps take one change (a
second change to the steps starts another UPDATE, so that each change reads the steps as the
previous one left them). The statement shapes are few and fixed, so psycopg prepares them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.engine.projector_base import Params

# Columns an event may set, in the order of the UPDATE's SET clause (its shape).
COLUMNS = ("status", "plan_hash", "outcome", "escalation_expires_at", "failure", "plan", "decision")
_JSONB = frozenset({"plan", "decision"})
_INSERT = (
    "INSERT INTO {table} (tenant_id, run_id, user_id, channel, text, status, plan_hash, outcome,"
    " escalation_expires_at, failure, plan, decision, steps, timeline, created_at, updated_at,"
    " version, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb,"
    " %s::jsonb, %s::jsonb, %s, %s, %s, %s)"
)
# A step's entry as the aggregate keeps it: a (re)start replaces it, an outcome adds to it.
_STEP_STARTED = (
    "steps = jsonb_set(steps, ARRAY[%s::text], jsonb_build_object('state', 'started', 'key',"
    " %s::text, 'attempts', coalesce((steps #>> ARRAY[%s::text, 'attempts'])::int, 0) + 1))"
)
_STEP_OUTCOME = (
    "steps = jsonb_set(steps, ARRAY[%s::text], coalesce(steps -> %s::text, '{}') || %s::jsonb)"
)
_TAIL = (
    "timeline = timeline || %s::jsonb, updated_at = %s, version = %s, position = %s"
    " WHERE run_id = %s"
)
_queries: dict[tuple[str, tuple[str, ...], str | None], str] = {}


@dataclass(frozen=True, slots=True)
class StepChange:
    step: str
    started: bool  # else an outcome
    value: str  # started: the idempotency key; an outcome: its JSON text


@dataclass(slots=True)
class RunChange:
    """What one event does to its run's row. `row` (tenant, user, channel, text) inserts it."""

    table: str  # the generation's physical table
    run_id: UUID
    at: datetime
    version: int
    position: int
    entry: dict[str, Any]  # the timeline entry
    row: tuple[Any, ...] | None = None
    sets: dict[str, Any] = field(default_factory=dict)
    step: StepChange | None = None

    @property
    def merge_key(self) -> UUID:
        return self.run_id

    def merged(self, parts: Sequence[Any]) -> list[tuple[str, Params]]:
        statements: list[tuple[str, Params]] = []
        group: list[RunChange] = []
        for part in parts:
            if group and not _joins(group, part):
                statements.append(_statement(group))
                group = []
            group.append(part)
        statements.append(_statement(group))
        return statements


def _joins(group: list[RunChange], part: RunChange) -> bool:
    if part.row is not None:
        return False  # an insert starts a statement of its own
    if group[0].row is not None or part.step is None:
        return True
    return all(p.step is None for p in group)


def _statement(group: list[RunChange]) -> tuple[str, Params]:
    return _insert(group) if group[0].row is not None else _update(group)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _insert(group: list[RunChange]) -> tuple[str, Params]:
    """The row as the group's events leave it, worked out here (nothing to read first)."""
    first, last = group[0], group[-1]
    assert first.row is not None
    values: dict[str, Any] = dict.fromkeys(COLUMNS)
    steps: dict[str, Any] = {}
    for part in group:
        values.update(part.sets)
        change = part.step
        if change is None:
            continue
        before = steps.get(change.step) or {}
        if change.started:
            attempts = int(before.get("attempts") or 0) + 1
            steps[change.step] = {"state": "started", "key": change.value, "attempts": attempts}
        else:
            steps[change.step] = {**before, **json.loads(change.value)}
    tenant, user, channel, text = first.row
    query = _queries.get((first.table, (), "insert"))
    if query is None:
        query = _queries[(first.table, (), "insert")] = _INSERT.format(table=first.table)
    return query, (
        tenant,
        first.run_id,
        user,
        channel,
        text,
        *(values[c] for c in COLUMNS),
        _json(steps),
        _json([p.entry for p in group]),
        first.at,
        last.at,
        last.version,
        last.position,
    )


def _update(group: list[RunChange]) -> tuple[str, Params]:
    last = group[-1]
    sets: dict[str, Any] = {}
    change: StepChange | None = None
    for part in group:
        sets.update(part.sets)
        change = part.step or change
    columns = tuple(c for c in COLUMNS if c in sets)
    kind = None if change is None else "started" if change.started else "outcome"
    key = (last.table, columns, kind)
    query = _queries.get(key)
    if query is None:
        clauses = [f"{c} = %s::jsonb" if c in _JSONB else f"{c} = %s" for c in columns]
        if kind is not None:
            clauses.append(_STEP_STARTED if change and change.started else _STEP_OUTCOME)
        clauses.append(_TAIL)
        query = _queries[key] = f"UPDATE {last.table} SET " + ", ".join(clauses)  # noqa: S608
    params: list[Any] = [sets[c] for c in columns]
    if change is not None:
        step = change.step
        params += (step, change.value, step) if change.started else (step, step, change.value)
    params += (_json([p.entry for p in group]), last.at, last.version, last.position)
    params.append(last.run_id)
    return query, params
