"""The tools Cairn's MCP server offers: four of its own and one per catalogue action.

Everything a client learns about a tool (input schema, annotations, the scope it needs) is
derived here from Cairn's own registry (domain/runs/actions.py); nothing a client sends about
a tool is ever read back. An action tool never acts by itself: its call becomes a run whose
plan is that one step, decided by the same policy as any intent (commands/mcp/invoke.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.identity.scopes import RUNS_READ, RUNS_WRITE
from domain.runs.actions import CATALOGUE, ActionSpec

# Which connected service performs an action a client names without one: the same services
# the planner is told about (adapters/llm/prompt.py).
DEFAULT_PROVIDER = {
    "calendar.create_event": "google",
    "calendar.update_event": "google",
    "calendar.delete_event": "google",
    "calendar.free_busy": "google",
    "email.send": "google",
    "email.draft": "google",
    "email.search": "google",
    "payments.send": "bank",
    "reminders.create": "local",
    "notes.create": "local",
}


class ToolKind(StrEnum):
    QUERY = "query"  # reads views, changes nothing
    INTENT = "intent"  # starts a run the model plans
    ACTION = "action"  # starts a run whose plan is this one action


@dataclass(frozen=True)
class Annotations:
    """MCP tool annotations (hints for the client's UI, derived, never trusted inbound)."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    def as_mcp(self) -> dict[str, bool]:
        return {
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    kind: ToolKind
    scope: str  # the token scope a call needs (403 insufficient_scope without it)
    input_schema: dict[str, Any]
    annotations: Annotations
    action: ActionSpec | None = field(default=None, compare=False)


_READ = Annotations(read_only=True, destructive=False, idempotent=True, open_world=False)
_RUN_ID_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"run_id": {"type": "string", "minLength": 1, "maxLength": 64}},
    "required": ["run_id"],
    "additionalProperties": False,
}
_LIMIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    "additionalProperties": False,
}


def _action_tool(spec: ActionSpec) -> ToolSpec:
    schema = spec.parameters.model_json_schema()
    schema.pop("title", None)
    return ToolSpec(
        name=spec.name,
        title=spec.description,
        description=(
            f"{spec.description}. Cairn's policy decides every call: it runs at once when "
            "permitted, is refused naming the policy when denied, and asks the person to approve "
            "in the Cairn console when the policy escalates (the result then names the URL; "
            "retry the call with the given requestState after approval)."
        ),
        kind=ToolKind.ACTION,
        scope=RUNS_WRITE,
        input_schema=schema,
        # Every call starts a new run, so a repeated call acts again: never idempotent.
        annotations=Annotations(
            read_only=False,
            destructive=spec.irreversible,
            idempotent=False,
            open_world=spec.irreversible or spec.recipients_field is not None,
        ),
        action=spec,
    )


OWN_TOOLS = (
    ToolSpec(
        "submit_intent",
        "State an intent",
        "Tell Cairn what you want done, in words; its planner proposes a plan and the policy "
        "decides it. Answers the run id to follow with get_run.",
        ToolKind.INTENT,
        RUNS_WRITE,
        {
            "type": "object",
            "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 4000}},
            "required": ["text"],
            "additionalProperties": False,
        },
        Annotations(read_only=False, destructive=False, idempotent=False, open_world=True),
    ),
    ToolSpec(
        "get_run",
        "Get a run",
        "A run's status, plan, decision and steps.",
        ToolKind.QUERY,
        RUNS_READ,
        _RUN_ID_SCHEMA,
        _READ,
    ),
    ToolSpec(
        "list_runs",
        "List runs",
        "The person's latest runs, newest first.",
        ToolKind.QUERY,
        RUNS_READ,
        _LIMIT_SCHEMA,
        _READ,
    ),
    ToolSpec(
        "list_approvals",
        "List approvals",
        "Runs waiting for the person's approval (approved in the Cairn console with a passkey).",
        ToolKind.QUERY,
        RUNS_READ,
        _LIMIT_SCHEMA,
        _READ,
    ),
)

TOOLS: dict[str, ToolSpec] = {
    tool.name: tool for tool in (*OWN_TOOLS, *(_action_tool(spec) for spec in CATALOGUE.values()))
}


def scope_for(tool_name: str) -> str:
    """The scope a call of this tool needs; an unknown tool needs reading (it then fails as
    unknown, which tells nothing a reader could not list)."""
    tool = TOOLS.get(tool_name)
    return tool.scope if tool is not None else RUNS_READ
