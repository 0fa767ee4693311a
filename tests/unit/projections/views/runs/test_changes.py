"""A batch writes each run's changes together: as one INSERT when the batch inserts the run,
else as UPDATEs with at most one change to the steps each; other runs' changes and other
statements keep their place."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from projections.engine.projector_base import Writes
from projections.views.runs.changes import RunChange, StepChange

pytestmark = pytest.mark.unit

RUN, OTHER = UUID(int=1), UUID(int=2)
T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
KEY = "k" * 32


def _change(version: int, run: UUID = RUN, **sets: Any) -> RunChange:
    at = T0 + timedelta(seconds=version)
    entry = {"type": f"E{version}", "version": version, "at": at.isoformat()}
    return RunChange("runs__g2", run, at, version, 100 + version, entry, sets=sets)


def _submitted(run: UUID = RUN) -> RunChange:
    change = _change(1, run, status="submitted")
    change.row = ("tenant", "user", "app", "note: milk")
    return change


def _started(version: int) -> RunChange:
    change = _change(version, status="executing")
    change.step = StepChange("s1", True, KEY)
    return change


def _outcome(version: int, outcome: dict[str, Any], **sets: Any) -> RunChange:
    change = _change(version, **sets)
    change.step = StepChange("s1", False, json.dumps(outcome))
    return change


def _statements(*changes: RunChange) -> list[tuple[str, Any]]:
    writes = Writes()
    for change in changes:
        writes.merge(change)
    return [(query, params) for query, _, run in writes.runs() for _, params, _ in run]


def _timeline(params: Any) -> list[int]:
    return [entry["version"] for entry in json.loads(params)]


def test_a_run_inserted_in_the_batch_is_one_insert_of_the_row_its_events_leave() -> None:
    ((query, params),) = _statements(
        _submitted(),
        _change(2, status="planned", plan_hash="h", plan='{"steps":[]}'),
        _change(3, status="approved", outcome="APPROVE", decision='{"outcome":"APPROVE"}'),
        _started(4),
        _outcome(5, {"state": "failed", "error": "timeout", "retryable": True}),
        _started(6),
        _outcome(7, {"state": "succeeded", "result": {"id": "n1"}}),
        _change(8, status="completed"),
    )
    assert query.startswith("INSERT INTO runs__g2 (")
    (tenant, run, user, channel, text, status, plan_hash, outcome, expires, failure) = params[:10]
    assert (tenant, run, user, channel, text) == ("tenant", RUN, "user", "app", "note: milk")
    assert (status, plan_hash, outcome, expires, failure) == (
        "completed",
        "h",
        "APPROVE",
        None,
        None,
    )
    plan, decision, steps, timeline, created, updated, version, position = params[10:]
    assert (plan, decision) == ('{"steps":[]}', '{"outcome":"APPROVE"}')
    assert json.loads(steps) == {
        "s1": {"state": "succeeded", "key": KEY, "attempts": 2, "result": {"id": "n1"}}
    }
    assert _timeline(timeline) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert (created, updated, version, position) == (
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=8),
        8,
        108,
    )


def test_updates_take_the_last_values_and_one_change_to_the_steps_each() -> None:
    first, second = _statements(
        _change(2, status="planned", plan_hash="h", plan="{}"),
        _change(3, status="approved", outcome="APPROVE", decision="{}"),
        _started(4),
        _outcome(5, {"state": "succeeded", "result": {}}),
        _change(6, status="completed"),
    )
    query, params = first
    assert query == (
        "UPDATE runs__g2 SET status = %s, plan_hash = %s, outcome = %s, plan = %s::jsonb,"
        " decision = %s::jsonb, steps = jsonb_set(steps, ARRAY[%s::text], jsonb_build_object("
        "'state', 'started', 'key', %s::text, 'attempts', coalesce((steps #>> ARRAY[%s::text,"
        " 'attempts'])::int, 0) + 1)), timeline = timeline || %s::jsonb, updated_at = %s,"
        " version = %s, position = %s WHERE run_id = %s"
    )
    assert params[:8] == ["executing", "h", "APPROVE", "{}", "{}", "s1", KEY, "s1"]
    assert _timeline(params[8]) == [2, 3, 4]
    assert params[9:] == [T0 + timedelta(seconds=4), 4, 104, RUN]
    query, params = second
    assert "status = %s, steps = jsonb_set(steps, ARRAY[%s::text], coalesce(" in query
    assert params[:3] == ["completed", "s1", "s1"]
    assert json.loads(params[3]) == {"state": "succeeded", "result": {}}
    assert _timeline(params[4]) == [5, 6]
    assert params[5:] == [T0 + timedelta(seconds=6), 6, 106, RUN]


def test_each_run_is_written_where_its_first_change_was_and_other_statements_keep_order() -> None:
    writes = Writes()
    writes.merge(_submitted(RUN))
    writes.execute("SELECT 'between'")
    writes.merge(_submitted(OTHER))
    writes.merge(_change(2, RUN, status="planned"))
    writes.merge(_change(2, OTHER, status="planned"))
    statements: list[Any] = [params for _, _, run in writes.runs() for _, params, _ in run]
    assert [s[1] if len(s) > 1 else s for s in statements] == [RUN, (), OTHER]
    assert [s[5] for s in (statements[0], statements[2])] == ["planned", "planned"]


def test_the_same_shape_is_the_same_query_so_runs_go_as_one_execution() -> None:
    writes = Writes()
    writes.merge(_change(2, RUN, status="planned"))
    writes.merge(_change(3, OTHER, status="planned"))
    ((_, _, run),) = list(writes.runs())
    assert len(run) == 2
