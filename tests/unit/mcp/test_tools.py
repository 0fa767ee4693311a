"""The MCP tool list is derived from Cairn's action registry: one tool per action with the
action's own schema, annotations from the registry, the scope each call needs."""

from __future__ import annotations

import pytest

from api.mcp.guard import needed_scope
from commands.mcp.tools import DEFAULT_PROVIDER, TOOLS, ToolKind, scope_for
from domain.runs.actions import CATALOGUE

pytestmark = pytest.mark.unit


def test_every_action_is_a_tool_with_its_parameters_schema() -> None:
    actions = {name for name, tool in TOOLS.items() if tool.kind is ToolKind.ACTION}
    assert actions == set(CATALOGUE) == set(DEFAULT_PROVIDER)
    for name, spec in CATALOGUE.items():
        schema = TOOLS[name].input_schema
        model = spec.parameters.model_json_schema()
        assert schema["properties"] == model["properties"]
        assert schema.get("required") == model.get("required")
        assert schema["additionalProperties"] is False


def test_annotations_follow_the_registry() -> None:
    for name, spec in CATALOGUE.items():
        hints = TOOLS[name].annotations
        assert hints.read_only is False and hints.idempotent is False
        assert hints.destructive is spec.irreversible
    assert TOOLS["payments.send"].annotations.destructive is True
    assert TOOLS["notes.create"].annotations.destructive is False
    for name in ("get_run", "list_runs", "list_approvals"):
        assert TOOLS[name].annotations.as_mcp() == {
            "readOnlyHint": True,
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": False,
        }


def test_reading_needs_runs_read_and_acting_runs_write() -> None:
    assert {scope_for(n) for n in ("get_run", "list_runs", "list_approvals")} == {"runs:read"}
    assert {scope_for(n) for n in (*CATALOGUE, "submit_intent")} == {"runs:write"}
    assert scope_for("no.such.tool") == "runs:read"


@pytest.mark.parametrize(
    ("body", "scope"),
    [
        (
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"payments.send"}}',
            "runs:write",
        ),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_run"}}',
            "runs:read",
        ),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}', None),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}', None),
        (b"not json", None),
        (b"[1, 2]", None),
    ],
)
def test_the_guard_reads_the_scope_a_message_needs(body: bytes, scope: str | None) -> None:
    assert needed_scope(body) == scope
