"""Cairn's OAuth 2.1 authorization server for MCP clients, and the MCP server's metadata
(RFC 6749, 7009, 7591, 8414, 8707, 9728; docs/mcp.md, decision 0031).

The protocol endpoints (`/oauth/*`, `/.well-known/*`) answer the protocol's own shapes
(`{"error", "error_description"}`), fixed by their RFCs and documented in docs/mcp.md, so they
stay out of the OpenAPI contract (whose errors all have the API's envelope); the console's
consent endpoints (`/v1/oauth/requests/*`) answer as the rest of the API does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import ClientAddress, CurrentCaller, ServicesDep
from api.models import Ceremony, ErrorResponse
from commands.identity import oauth, oauth_tokens
from commands.identity.oauth_clients import (
    OAuthError,
    authorization_server_metadata,
    protected_resource_metadata,
    register_client,
)
from commands.mcp.composition import McpServices
from domain.errors import Unavailable

# A pending request's id as Cairn made it (secrets.token_urlsafe(24)): anything else is refused
# at the boundary, before it reaches a store.
RequestId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The pending request's id")
]

router = APIRouter(tags=["oauth"])
AUTH = "auth"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PROTOCOL_ERROR: dict[int | str, dict[str, Any]] = {
    400: {"description": "RFC 6749 error: `{error, error_description}`"},
}


def get_mcp(request: Request) -> McpServices:
    found: McpServices | None = getattr(request.app.state, "mcp", None)
    if found is None:
        raise Unavailable("the authorization server is not running in this process")
    return found


Mcp = Annotated[McpServices, Depends(get_mcp)]


def _protocol_error(error: OAuthError) -> JSONResponse:
    body = {"error": error.error, "error_description": error.description}
    return JSONResponse(body, status_code=error.status, headers=NO_STORE)


@router.get(
    "/.well-known/oauth-authorization-server",
    operation_id="oauthServerMetadata",
    include_in_schema=False,
)
def server_metadata(mcp: Mcp) -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    return authorization_server_metadata(mcp.oauth)


@router.get(
    "/.well-known/oauth-protected-resource/mcp",
    operation_id="mcpResourceMetadata",
    include_in_schema=False,
)
def resource_metadata(mcp: Mcp) -> dict[str, Any]:
    """RFC 9728 metadata of the MCP server at `/mcp` as a protected resource."""
    return protected_resource_metadata(mcp.oauth)


@router.post(
    "/oauth/register",
    operation_id="registerOAuthClient",
    include_in_schema=False,
    status_code=201,
    responses=PROTOCOL_ERROR,
)
def register(
    body: dict[str, Any], mcp: Mcp, services: ServicesDep, address: ClientAddress
) -> JSONResponse:
    """RFC 7591 dynamic registration of a public client (no secret; PKCE is required)."""
    services.rate_limiter.enforce(AUTH, "anonymous", address)
    try:
        return JSONResponse(register_client(body, mcp.oauth), status_code=201)
    except OAuthError as error:
        return _protocol_error(error)


@router.get(
    "/oauth/authorize",
    operation_id="authorizeOAuthClient",
    include_in_schema=False,
    status_code=302,
    responses={302: {"description": "To the console's consent screen, or back to the client"}},
)
def authorize(request: Request, mcp: Mcp) -> RedirectResponse:
    """Authorization code + PKCE (S256): the browser goes on to the console, where the
    signed-in person consents with a passkey. A request whose client or redirect URI is
    not valid is answered here (400), never redirected."""
    target = oauth.start_authorization(dict(request.query_params), mcp.oauth)
    return RedirectResponse(target.url, status_code=302)


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    scope: str


@router.post(
    "/oauth/token",
    operation_id="oauthToken",
    include_in_schema=False,
    response_model=TokenAnswer,
    responses=PROTOCOL_ERROR,
)
async def token(request: Request, mcp: Mcp) -> JSONResponse:
    """Redeem a code (with `code_verifier`) or rotate a refresh token; `resource` (RFC 8707)
    must be the MCP server's URL when given. Form-encoded, as RFC 6749 says."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        answer = await run_in_threadpool(oauth_tokens.token, form, mcp.tokens)
    except OAuthError as error:
        return _protocol_error(error)
    return JSONResponse(answer, headers=NO_STORE)


@router.post("/oauth/revoke", operation_id="revokeOAuthToken", include_in_schema=False)
async def revoke(request: Request, mcp: Mcp) -> JSONResponse:
    """RFC 7009: ends the grant's session, whether its access or refresh token is given.
    Always 200, also for a token Cairn does not know."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    await run_in_threadpool(oauth_tokens.revoke, form, mcp.tokens)
    return JSONResponse({}, headers=NO_STORE)


class ConsentRequest(BaseModel):
    request_id: str
    client_id: str
    client_name: str
    redirect_uri: str
    scopes: list[dict[str, str]]


class ConsentDecision(BaseModel):
    """Send the browser to `redirect_to`: the client's redirect URI with a code, or an error."""

    redirect_to: str


class ConsentIn(BaseModel):
    ceremony_id: str = Field(min_length=1, max_length=200)
    credential: dict[str, Any]


@router.get(
    "/v1/oauth/requests/{request_id}",
    operation_id="getAuthorizationRequest",
    response_model=ConsentRequest,
    responses={404: {"model": ErrorResponse, "description": "Unknown or decided"}},
)
def get_request(request_id: RequestId, caller: CurrentCaller, mcp: Mcp) -> ConsentRequest:
    """What an MCP client asks for: shown on the console's consent screen."""
    found = oauth.pending_request(request_id, mcp.oauth)
    return ConsentRequest(
        request_id=request_id,
        client_id=found["client_id"],
        client_name=found["client_name"],
        redirect_uri=found["redirect_uri"],
        scopes=[{"scope": s, "text": oauth.SCOPE_TEXT.get(s, s)} for s in found["scopes"]],
    )


@router.post(
    "/v1/oauth/requests/{request_id}/approve/begin",
    operation_id="beginConsent",
    response_model=Ceremony,
)
def begin_consent(request_id: RequestId, caller: CurrentCaller, mcp: Mcp) -> Ceremony:
    """A passkey challenge bound to this request, its client and its scopes."""
    return Ceremony.of(oauth.begin_consent(request_id, caller, mcp.oauth))


@router.post(
    "/v1/oauth/requests/{request_id}/approve",
    operation_id="approveConsent",
    response_model=ConsentDecision,
)
def approve_consent(
    request_id: RequestId, body: ConsentIn, caller: CurrentCaller, mcp: Mcp
) -> ConsentDecision:
    """Consent with the passkey assertion: a code for the client (valid one minute)."""
    target = oauth.approve_consent(request_id, body.ceremony_id, body.credential, caller, mcp.oauth)
    return ConsentDecision(redirect_to=target.url)


@router.post(
    "/v1/oauth/requests/{request_id}/deny",
    operation_id="denyConsent",
    response_model=ConsentDecision,
)
def deny_consent(request_id: RequestId, caller: CurrentCaller, mcp: Mcp) -> ConsentDecision:
    """Decline: the client is told `access_denied`."""
    return ConsentDecision(redirect_to=oauth.decline_consent(request_id, mcp.oauth).url)
