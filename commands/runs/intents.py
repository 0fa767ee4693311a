"""Submitting an intent: the first event of a run. Planning and deciding happen after the 202."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import Field

from commands.base import Command, CommandResult, Issued
from domain.runs.run import Run

if TYPE_CHECKING:
    from commands.dispatch import Ports


class SubmitIntent(Command):
    text: str = Field(min_length=1, max_length=4000)
    channel: Literal["app", "voice", "glasses", "schedule", "api"] = "app"


def run_id_for(tenant_id: UUID, command_id: str) -> UUID:
    """Derived from the command id, so a retried submission names the same run."""
    return uuid5(NAMESPACE_URL, f"cairn:run:{tenant_id}:{command_id}")


def submit_intent(command: SubmitIntent, issued: Issued, ports: Ports) -> CommandResult:
    caller = issued.signed_in()
    run = Run(
        run_id_for(caller.tenant_id, issued.required_command_id()),
        command.text,
        caller.user_id,
        caller.device_id,
        command.channel,
        tenant_id=caller.tenant_id,
    )
    context = issued.event_context(correlation_id=str(run.id))
    position = ports.runs.save_atomically(run, context=context)
    return CommandResult({"run_id": str(run.id)}, position)
