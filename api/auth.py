"""Who is calling: bearer token -> verified claims -> live session -> caller with capabilities.

Every step fails closed: a missing or bad token, a revoked session or device, an erased user,
or an unreachable Redis/PostgreSQL never lets a request through.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from api.middleware import ids_of
from commands.base import Caller
from commands.bootstrap import Services
from commands.identity.context import IdentityPorts
from commands.ports.sessions import AccessClaims
from domain.errors import NotAuthenticated, NotFound, Unavailable


class TokenMissing(NotAuthenticated):
    code = "token_missing"


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise Unavailable("Cairn's services are not running in this process")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_identity(services: ServicesDep) -> IdentityPorts:
    return services.identity


Identity = Annotated[IdentityPorts, Depends(get_identity)]


def get_claims(request: Request, identity: Identity) -> AccessClaims:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenMissing("send an access token: Authorization: Bearer <token>")
    claims = identity.tokens.verify_access_token(token.strip())
    identity.sessions.check_session_active(claims)
    return claims


Claims = Annotated[AccessClaims, Depends(get_claims)]


def get_caller(request: Request, claims: Claims, services: ServicesDep) -> Caller:
    identity = services.identity
    try:
        user = identity.get_user(claims.user_id, UUID(claims.tenant))
    except NotFound as exc:
        raise NotAuthenticated("the account of this token no longer exists") from exc
    device = user.devices.get(claims.device_id)
    if user.erased or device is None or device["revoked"]:
        raise NotAuthenticated("this device or account was revoked; sign in again")
    route_class = "query" if request.method in ("GET", "HEAD") else "command"
    services.rate_limiter.enforce(route_class, claims.tenant, claims.user_id)
    request_id, correlation_id = ids_of(request.scope)
    return Caller(
        tenant_id=user.tenant_id,
        user_id=str(user.id),
        device_id=claims.device_id,
        session_id=claims.session_id,
        capabilities=tuple(user.capabilities),
        correlation_id=correlation_id or None,
        request_id=request_id or None,
    )


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
