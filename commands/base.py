"""What every command has in common: the model base, who sends it, and what a handler returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from pydantic import ConfigDict

from commands.ports.sessions import AccessClaims
from domain.errors import InvalidInput, NotAuthenticated
from domain.event_context import EventContext
from domain.storable import StorableModel


class Command(StorableModel):
    """An imperative request to change state. Never carries tenant, role or owner: those come
    from the authenticated caller. Every value in it must be one Cairn can store."""

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


@dataclass(frozen=True)
class Issued:
    """How a command arrived: who sent it (no one yet for sign-up and login), under which id,
    and what a handler may have to check about the request."""

    caller: Caller | None = None
    # From the client's Idempotency-Key: the command's first append carries it, so a retried
    # command is never appended twice. None: the client did not ask for that.
    command_id: str | None = None
    # The caller's verified access token: sensitive changes need it to be fresh (step-up).
    claims: AccessClaims | None = None
    # The client's network address, for login throttling.
    address: str = "unknown"
    correlation_id: str | None = None
    request_id: str | None = None

    def signed_in(self) -> Caller:
        if self.caller is None:
            raise NotAuthenticated("this command needs a signed-in caller")
        return self.caller

    def access_claims(self) -> AccessClaims:
        if self.claims is None:
            raise NotAuthenticated("this command needs the caller's access token")
        return self.claims

    def required_command_id(self) -> str:
        if self.command_id is None:
            raise InvalidInput(
                "this command needs an Idempotency-Key header (any unique string per request)",
                {"header": "Idempotency-Key"},
            )
        return self.command_id

    def event_context(
        self,
        *,
        tenant: UUID | str | None = None,
        actor: UUID | str | None = None,
        device: str | None = None,
        correlation_id: str | None = None,
    ) -> EventContext:
        """The context of the command's own save: the caller's tenant, user and device unless
        given (a sign-up has no caller yet), caused by the request, with the command id."""
        caller = self.caller
        tenant = tenant if tenant is not None else (caller.tenant_id if caller else None)
        actor = actor if actor is not None else (caller.user_id if caller else None)
        if tenant is None or actor is None:
            raise ValueError("a command without a caller must name its tenant and actor")
        return EventContext(
            tenant=str(tenant),
            actor=str(actor),
            device=device if device is not None else (caller.device_id if caller else None),
            correlation_id=correlation_id or self.correlation_id,
            causation_id=self.request_id,
            command_id=self.command_id,
        )

    def fact_context(self) -> EventContext | None:
        """The context of security facts a command records beside its own save (never with
        the command id: they are saves of their own)."""
        if self.caller is None:
            return None
        return EventContext(
            tenant=str(self.caller.tenant_id),
            actor=self.caller.user_id,
            device=self.caller.device_id,
            correlation_id=self.correlation_id,
            causation_id=self.request_id,
        )


@dataclass(frozen=True)
class CommandResult:
    """Ids of what the command created or touched, and the store position of its last event
    (None if it appended nothing). Never live objects. `credentials` holds what sign-up,
    login, refresh and a few others hand back to the client once (tokens, an invitation
    token, a TOTP secret); it is never stored or replayed."""

    ids: dict[str, str] = field(default_factory=dict)
    position: int | None = None
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
