"""How the people's commands print: JSON on stdout for scripts (`--json`), otherwise short
human lines and tables; progress goes to stderr."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def as_data(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def emit_json(value: Any) -> None:
    print(json.dumps(as_data(value), separators=(",", ":"), default=str), flush=True)


def runs_table(items: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("run", "status", "intent", "updated"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item.get("run_id", "")),
            str(item.get("status", "")),
            str(item.get("text", ""))[:60],
            str(item.get("updated_at", item.get("submitted_at", ""))),
        )
    return table


def describe_run(run: dict[str, Any]) -> None:
    out.print(f"[bold]run {run['run_id']}[/]: {run['status']}")
    out.print(f"  intent: {run['text']}")
    plan = run.get("plan") or {}
    for step in plan.get("steps", []):
        out.print(f"  step {step.get('step_id')}: {step.get('action')} {step.get('parameters')}")
    decision = run.get("decision") or {}
    if decision:
        out.print(f"  decision: {decision.get('outcome')} by {decision.get('policies')}")
    if run.get("failure"):
        out.print(f"  failure: {run['failure']}")
    for entry in run.get("timeline", []):
        out.print(f"  {entry['at']}  {entry['type']}")
