"""What every command has in common: the model base, who calls, and what a handler returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.event_context import EventContext


class Command(BaseModel):
    """An imperative request to change state. Never carries tenant, role or owner: those come
    from the authenticated caller."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Caller:
    """The authenticated principal a command runs for."""

    tenant_id: UUID
    user_id: str
    device_id: str | None = None
    session_id: str | None = None
    capabilities: tuple[str, ...] = ()
    correlation_id: str | None = None
    request_id: str | None = None

    def event_context(
        self, *, correlation_id: str | None = None, command_id: str | None = None
    ) -> EventContext:
        """Whose events these are: the caller's tenant, user and device; caused by the
        request; correlated with `correlation_id` (default: the request's correlation id)."""
        return EventContext(
            tenant=str(self.tenant_id),
            actor=self.user_id,
            device=self.device_id,
            correlation_id=correlation_id or self.correlation_id,
            causation_id=self.request_id,
            command_id=command_id,
        )


@dataclass(frozen=True)
class CommandResult:
    """Ids of what the command created or touched, and the store position of its last event
    (None if it appended nothing). Never live objects."""

    ids: dict[str, str] = field(default_factory=dict)
    position: int | None = None
