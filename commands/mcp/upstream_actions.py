"""Upstream MCP tools as executor actions (decision 0035).

A plan names an upstream tool as `mcp.<server id>.<tool name>`. Before the policy decides,
each such step is checked against the person's pins (their own server, a tool it lists,
arguments valid under the tool's pinned input schema) and becomes an `McpTool` entity with
the tool's approval state and hints; the default policy escalates every call. The executor
calls the upstream through the same client as everything else here, only if what the server
lists at that moment is what the person approved, and at most once per step: MCP has no
idempotency key, so an attempt that left no outcome is never repeated without the person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel

from commands.base import Caller
from commands.mcp.upstream import as_listed, as_untrusted_data, check_callable
from commands.mcp.upstream_service import UpstreamPorts, relist, token_for
from commands.ports.connections import ConnectionMissing, ReauthNeeded
from commands.ports.integrations import (
    ActionHandler,
    ActionHandlers,
    ErrorKind,
    IntegrationError,
    Integrations,
    RetryPolicy,
)
from commands.ports.mcp_upstream import PinnedTool, UpstreamServer, UpstreamToolFailed
from domain.errors import DomainError, Unavailable
from domain.policy.inputs import UnknownUpstreamTool
from domain.policy.model import UpstreamTool
from domain.runs.actions import (
    InvalidParameters,
    parse_upstream_action,
    upstream_action,
    validate_parameters,
)
from domain.runs.plan import Plan

# The provider a plan names for an upstream tool's step (the server is in the action name).
UPSTREAM_PROVIDER = "mcp"
OUTPUT_MAX_CHARS = 20_000
# Listing the tools first can fail without anything called: that is retried. The call itself
# is never repeated by the executor alone (`repeat_unknown`): no key makes it safe.
UPSTREAM_RETRY = RetryPolicy(
    attempts=3,
    initial_backoff=0.5,
    max_backoff=5.0,
    retry_on=frozenset({ErrorKind.CONNECTION}),
    repeat_unknown=False,
)
UNKNOWN_OUTCOME = (
    "the MCP server did not confirm the call, and MCP has no idempotency key: it may or may "
    "not have acted. Check at the server; approve to call it once more"
)


def check_arguments(pin: PinnedTool, arguments: Mapping[str, Any]) -> None:
    """The arguments are valid under the tool's pinned input schema (JSON Schema)."""
    try:
        validator = Draft202012Validator(dict(pin.input_schema))
        errors = sorted(validator.iter_errors(dict(arguments)), key=lambda e: list(e.path))
    except SchemaError as exc:
        raise InvalidParameters(
            f"the tool {pin.name!r} has no usable input schema", {"tool": pin.name}
        ) from exc
    if errors:
        problems = [{"location": list(e.path), "message": e.message[:200]} for e in errors[:10]]
        raise InvalidParameters(
            f"arguments of {pin.name!r} do not match its input schema",
            {"action": upstream_action(pin.server_id, pin.name), "errors": problems},
        )


def tool_facts(server: UpstreamServer, pin: PinnedTool) -> UpstreamTool:
    hints = pin.annotations
    return UpstreamTool(
        server_id=server.server_id,
        server_name=server.name,
        tool=pin.name,
        approval=pin.state.value,
        hash=pin.listed_hash,
        read_only_hint=hints.get("readOnlyHint") is True,
        destructive_hint=hints.get("destructiveHint") is not False,
        idempotent_hint=hints.get("idempotentHint") is True,
        open_world_hint=hints.get("openWorldHint") is not False,
    )


def _server_and_pin(
    ports: UpstreamPorts, tenant: str, user_id: str, action: str
) -> tuple[UpstreamServer, PinnedTool]:
    named = parse_upstream_action(action)
    server = None if named is None else ports.store.get_server(tenant, named[0])
    pin = None if server is None or named is None else ports.store.pins(tenant, named[0])
    if named is None or server is None or server.user_id != user_id or not pin:
        raise UnknownUpstreamTool("no such MCP server of this person", {"action": action})
    found = pin.get(named[1])
    if found is None:
        raise UnknownUpstreamTool("the MCP server does not list this tool", {"action": action})
    return server, found


def plan_tools(
    ports: UpstreamPorts, tenant_id: UUID, user_id: str, plan: Plan
) -> dict[str, UpstreamTool]:
    """The policy's facts of every upstream tool the plan names, as the pins stand (the
    executor checks the live listing again before calling). `UnknownUpstreamTool` or
    `InvalidParameters` when a step names a tool that is not the person's, or arguments
    outside its schema: the run fails with that reason."""
    found: dict[str, UpstreamTool] = {}
    for step in plan.steps:
        if parse_upstream_action(step.action) is None:
            continue
        server, pin = _server_and_pin(ports, str(tenant_id), user_id, step.action)
        check_arguments(pin, step.parameters)
        found[step.action] = tool_facts(server, pin)
    return found


@dataclass(frozen=True)
class UpstreamToolHandler:
    """Implements `commands.ports.integrations.ActionHandler` for one upstream tool."""

    name: str
    timeout: float = 30.0
    retry: RetryPolicy = UPSTREAM_RETRY

    def validate(self, parameters: Mapping[str, Any]) -> BaseModel:
        return validate_parameters(self.name, dict(parameters))

    def perform(
        self,
        integrations: Integrations,
        tenant: str,
        provider: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        person: str | None = None,
    ) -> dict[str, Any]:
        self.validate(parameters)
        return integrations.perform(
            tenant,
            provider,
            self.name,
            dict(parameters),
            idempotency_key,
            timeout=self.timeout,
            person=person,
        )


class UpstreamIntegrations:
    """Implements `commands.ports.integrations.Integrations`: upstream tools are called here,
    every other action goes to `fallback`. Never with the person's Cairn credentials."""

    def __init__(self, ports: UpstreamPorts, fallback: Integrations) -> None:
        self.ports = ports
        self.fallback = fallback

    def supports(self, provider: str, action: str) -> bool:
        if parse_upstream_action(action) is not None:
            return provider == UPSTREAM_PROVIDER
        return self.fallback.supports(provider, action)

    def perform(
        self,
        tenant: str,
        provider: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
        person: str | None = None,
    ) -> dict[str, Any]:
        if parse_upstream_action(action) is None:
            return self.fallback.perform(
                tenant,
                provider,
                action,
                parameters,
                idempotency_key,
                timeout=timeout,
                person=person,
            )
        return self._call(tenant, action, parameters, idempotency_key, person or "")

    def _call(
        self, tenant: str, action: str, parameters: Mapping[str, Any], key: str, person: str
    ) -> dict[str, Any]:
        def failed(kind: ErrorKind, message: str) -> IntegrationError:
            return IntegrationError(kind, message, provider=UPSTREAM_PROVIDER, action=action)

        caller = Caller(tenant_id=UUID(tenant), user_id=person)
        try:
            server, _ = _server_and_pin(self.ports, tenant, person, action)
            pins = relist(caller, server, self.ports)  # what the server lists right now
            pin = pins.get(server_tool(action))
            check_callable(pin, as_listed(pin) if pin else None, server_tool(action))
            assert pin is not None
            check_arguments(pin, parameters)
        except Unavailable as exc:  # nothing was called: safe to try again
            raise failed(ErrorKind.CONNECTION, f"{exc.code}: {exc.message}") from exc
        except (ConnectionMissing, ReauthNeeded) as exc:
            raise failed(ErrorKind.NEEDS_PERSON, f"{exc.code}: {exc.message}") from exc
        except DomainError as exc:  # quarantined, unknown, arguments outside the schema
            raise failed(ErrorKind.REJECTED, f"{exc.code}: {exc.message}") from exc
        try:
            token = token_for(server, self.ports, tenant)
        except (ConnectionMissing, ReauthNeeded) as exc:  # only the person can connect
            raise failed(ErrorKind.NEEDS_PERSON, f"{exc.code}: {exc.message}") from exc
        except Unavailable as exc:
            raise failed(ErrorKind.CONNECTION, f"{exc.code}: {exc.message}") from exc
        try:
            output = self.ports.client.call_tool(server.url, pin.name, parameters, token)
        except UpstreamToolFailed as exc:  # its text is the upstream's: fenced as data
            said = as_untrusted_data(server.name, pin.name, str(exc))
            raise failed(ErrorKind.REJECTED, f"the tool answered an error:\n{said}") from exc
        except Unavailable as exc:
            raise failed(ErrorKind.NEEDS_PERSON, UNKNOWN_OUTCOME) from exc
        fenced = as_untrusted_data(server.name, pin.name, output[:OUTPUT_MAX_CHARS])
        receipt = f"{server.server_id}/{pin.name}/{key}"
        return {"id": receipt, "hash": pin.listed_hash, "output": fenced}


def server_tool(action: str) -> str:
    named = parse_upstream_action(action)
    assert named is not None
    return named[1]


class WithUpstreamTools:
    """Implements `commands.ports.integrations.ActionHandlers`: the built-in registry, and a
    handler for any upstream tool's action name."""

    def __init__(self, built_in: ActionHandlers) -> None:
        self.built_in = built_in

    def get(self, action: str) -> ActionHandler:
        if parse_upstream_action(action) is not None:
            return UpstreamToolHandler(action)
        return self.built_in.get(action)
