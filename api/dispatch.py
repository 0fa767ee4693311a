"""How command routes hand a command to the one dispatch and answer alike.

A command route builds its command from the path and body and sends it: `send.accepted(...)`
answers 202 with the ids the command touched and the position of its last event; routes that
hand back a credential (sign-up, login, refresh...) use `send.with_credentials(...)` and
answer with it. Both honour `Idempotency-Key` the same way (api/idempotency.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, SecretStr, ValidationError

from api.auth import (
    RATE_LIMITED,
    ClientAddress,
    ServicesDep,
    address_of,
    authenticated_of,
    caller_of,
    get_services,
    rate_count,
)
from api.idempotency import idempotency_key_of, once
from api.middleware import ids_of
from commands.base import Caller, Command, CommandResult, Issued
from commands.bootstrap import Services
from commands.ports.sessions import AccessClaims
from projections.engine.store_head import StoreHead

C = TypeVar("C", bound=Command)


def build(command_type: type[C], **fields: Any) -> C:
    """The command from path and body values; values it refuses are a 422 like a bad body."""
    try:
        return command_type(**fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from exc


class Sender:
    """Sends the commands of one request through the dispatch."""

    def __init__(
        self,
        request: Request,
        services: Services,
        key: str | None,
        caller: Caller | None,
        claims: AccessClaims | None,
        address: str,
    ) -> None:
        self.request = request
        self.services = services
        self.key = key
        self.caller = caller
        self.claims = claims
        self.address = address
        # Keys are the client's own: one person's key never answers for another.
        self.scope = f"{caller.tenant_id}:{caller.user_id}" if caller else f"anonymous:{address}"

    def accepted(self, command: Command) -> JSONResponse:
        """Dispatch; answer 202 with the command's ids and the position of its last event."""
        return self._send(
            command, 202, lambda r: {**r.ids, "position": r.position}, keep_answer=True
        )

    def with_credentials(
        self, command: Command, answer: Callable[[CommandResult], BaseModel], status: int = 200
    ) -> JSONResponse:
        """Dispatch; answer with what `answer` makes of the result, credentials included."""
        return self._send(
            command, status, lambda r: answer(r).model_dump(mode="json"), keep_answer=False
        )

    def _send(
        self,
        command: Command,
        status: int,
        answer: Callable[[CommandResult], dict[str, Any]],
        *,
        keep_answer: bool,
    ) -> JSONResponse:
        def run(command_id: str | None) -> tuple[int, dict[str, Any]]:
            result = self.services.commands.dispatch(command, self._issued(command_id))
            head: StoreHead | None = getattr(self.request.app.state, "store_head", None)
            if head is not None:  # a query's `?after=` of it needs no look at the store
                head.note(result.position)
            return status, answer(result)

        # On this thread, before anything of the command runs; once per request; in the same
        # round trip as the Idempotency-Key's record (decision 0057).
        count = None
        if self.claims is not None and not self.request.scope.get(RATE_LIMITED):
            count = rate_count(self.request, self.services, self.claims)
        return once(
            self.request,
            self.key,
            self.scope,
            _payload(command),
            self.services.idempotency,
            run,
            keep_answer=keep_answer,
            count=count,
        )

    def _issued(self, command_id: str | None) -> Issued:
        request_id, correlation_id = ids_of(self.request.scope)
        return Issued(
            caller=self.caller,
            command_id=command_id,
            claims=self.claims,
            address=self.address,
            correlation_id=correlation_id or None,
            request_id=request_id or None,
        )


def _reveal(value: object) -> object:
    if isinstance(value, SecretStr):
        return hashlib.sha256(value.get_secret_value().encode()).hexdigest()
    return str(value)


# One encoder for every command: `json.dumps` with options makes a new one per call.
_PAYLOAD_JSON = json.JSONEncoder(default=_reveal, sort_keys=True)


def _payload(command: Command) -> bytes:
    """What a retry must repeat exactly: the command's type and fields, secrets included (a
    new API key under a used Idempotency-Key is another request, not a replay)."""
    fields = _PAYLOAD_JSON.encode(command.model_dump())
    return f"{type(command).__name__}\n{fields}".encode()


# Both `async`: FastAPI runs a plain `def` dependency on a worker thread, a hop each request.
# The signed-in caller's rate limit is not enforced here but by `Sender._send`, on the thread
# the command runs on: one hop per command in all (decision 0048). The signed-in sender finds
# the services and the caller itself rather than through dependencies of its own: each one
# FastAPI solves costs every command (decision 0057). Both read the Idempotency-Key header
# themselves, for the same reason; api/contract.py documents it on their routes (0063).
async def signed_in_sender(request: Request) -> Sender:
    services = get_services(request)
    authenticated = await authenticated_of(request, services)
    claims = authenticated.claims
    caller = caller_of(request, claims, authenticated.principal)
    key = idempotency_key_of(request)
    return Sender(request, services, key, caller, claims, address_of(request))


async def anonymous_sender(
    request: Request, services: ServicesDep, address: ClientAddress
) -> Sender:
    return Sender(request, services, idempotency_key_of(request), None, None, address)


Send = Annotated[Sender, Depends(signed_in_sender)]
SendAnonymous = Annotated[Sender, Depends(anonymous_sender)]
