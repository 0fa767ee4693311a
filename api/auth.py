"""Who is calling: bearer token -> verified claims -> live session -> caller with capabilities.

Every step fails closed: a missing or bad token, a revoked session or device, an erased user,
or an unreachable Redis/PostgreSQL never lets a request through.

The dependencies are `async`: FastAPI runs a plain `def` dependency on a worker thread, one
hop each. A token whose session this process checked moments ago (decision 0010) is answered
on the event loop without I/O; only a check and the rate limit go to a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.middleware import ids_of
from commands.base import Caller
from commands.bootstrap import Services
from commands.identity.context import IdentityPorts
from commands.identity.principals import Principal, authenticate
from commands.ports.ratelimit import RateCount
from commands.ports.sessions import AccessClaims
from domain.errors import NotAuthenticated, Unavailable


class TokenMissing(NotAuthenticated):
    code = "token_missing"


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise Unavailable("Cairn's services are not running in this process")
    return services


async def _services(request: Request) -> Services:
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]


async def get_identity(services: ServicesDep) -> IdentityPorts:
    return services.identity


Identity = Annotated[IdentityPorts, Depends(get_identity)]


@dataclass(frozen=True, slots=True)
class Authenticated:
    claims: AccessClaims
    principal: Principal


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenMissing("send an access token: Authorization: Bearer <token>")
    return token.strip()


AUTHENTICATED = "cairn.authenticated"  # in the request's scope once its caller was checked


async def authenticated_of(request: Request, services: Services) -> Authenticated:
    """The request's caller, checked once per request whichever dependency asks first."""
    known: Authenticated | None = request.scope.get(AUTHENTICATED)
    if known is not None:
        return known
    claims = services.identity.tokens.verify_access_token(_bearer(request))
    principal = services.principals.lookup(claims)
    if principal is None:
        principal = await run_in_threadpool(
            authenticate, claims, services.identity, services.principals
        )
    known = request.scope[AUTHENTICATED] = Authenticated(claims, principal)
    return known


async def get_authenticated(request: Request, services: ServicesDep) -> Authenticated:
    return await authenticated_of(request, services)


AuthenticatedDep = Annotated[Authenticated, Depends(get_authenticated)]


async def get_claims(authenticated: AuthenticatedDep) -> AccessClaims:
    return authenticated.claims


Claims = Annotated[AccessClaims, Depends(get_claims)]


def caller_of(request: Request, claims: AccessClaims, principal: Principal) -> Caller:
    request_id, correlation_id = ids_of(request.scope)
    return Caller(
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        device_id=claims.device_id,
        session_id=claims.session_id,
        capabilities=principal.capabilities,
        correlation_id=correlation_id or None,
        request_id=request_id or None,
    )


def _route_class(request: Request) -> str:
    return "query" if request.method in ("GET", "HEAD") else "command"


RATE_LIMITED = "cairn.rate_limited"  # in the request's scope once its caller's limit was hit


def rate_count(request: Request, services: Services, claims: AccessClaims) -> RateCount:
    """The request, to count against its caller's limit."""
    return RateCount(services.rate_limiter, _route_class(request), claims.tenant, claims.user_id)


def enforce_rate_limit(request: Request, services: Services, claims: AccessClaims) -> None:
    """The caller's rate limit: one Redis call, blocking (429 `rate_limit_exceeded`)."""
    rate_count(request, services, claims).enforce()


async def get_caller(request: Request) -> Caller:
    """The signed-in caller, its `query` or `command` limit counted. It takes the request
    alone and finds the services and the token itself: each dependency FastAPI solves costs
    every request of every route that has it (decision 0057)."""
    services = get_services(request)
    authenticated = await authenticated_of(request, services)
    claims = authenticated.claims
    await run_in_threadpool(enforce_rate_limit, request, services, claims)
    request.scope[RATE_LIMITED] = True  # a command's sender need not count it again
    return caller_of(request, claims, authenticated.principal)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def authenticate_token(
    request: Request, services: Services, token: str
) -> tuple[Caller, AccessClaims]:
    """The same checks as the dependencies above, in one blocking call (push subscriptions
    run it on a thread, when they open and every few seconds after)."""
    claims = services.identity.tokens.verify_access_token(token)
    principal = authenticate(claims, services.identity, services.principals)
    enforce_rate_limit(request, services, claims)
    return caller_of(request, claims, principal), claims


def address_of(request: Request) -> str:
    client = request.scope.get("client")  # what `request.client` makes an `Address` of
    return str(client[0]) if client is not None else "unknown"


async def client_address(request: Request) -> str:
    return address_of(request)


ClientAddress = Annotated[str, Depends(client_address)]
