"""Cairn's OAuth 2.1 authorization server for MCP clients: authorization code + PKCE, with the
console's passkey as the login and consent step (decision 0031, docs/mcp.md).

1. The client sends the person's browser to `/oauth/authorize`. The request is checked
   (known client, exact redirect URI, PKCE S256, the resource is Cairn's MCP server) and kept
   for ten minutes; the browser goes on to the console's consent screen.
2. The signed-in person sees the client and the scopes it asks for, and consents with a
   passkey assertion whose challenge is bound to that request (as a device approval is), or
   declines. Either answer sends the browser back to the client's redirect URI.
3. The client redeems the code (commands/identity/oauth_tokens.py).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from commands.base import Caller
from commands.identity.login import _unb64, passkey_lookup
from commands.identity.oauth_clients import OAuthError, OAuthPorts, resolve_client
from commands.ports.passkeys import CeremonyStart
from domain.errors import NotFound
from domain.identity.scopes import MCP_SCOPES, RUNS_READ
from domain.storable import unstorable

REQUEST_TTL = timedelta(minutes=10)
CODE_TTL = timedelta(seconds=60)
SCOPE_TEXT = {
    "runs:read": "See your runs, their plans and decisions, and what waits for your approval",
    "runs:write": "Ask Cairn to act for you (every request is decided by your policies; "
    "what they escalate waits for your passkey)",
}


class UnknownAuthorizationRequest(NotFound):
    code = "unknown_authorization_request"


@dataclass(frozen=True)
class Redirect:
    url: str


def _redirect(redirect_uri: str, **params: str) -> Redirect:
    joiner = "&" if "?" in redirect_uri else "?"
    return Redirect(redirect_uri + joiner + urlencode(params))


def granted_scopes(requested: str) -> tuple[str, ...]:
    """What a client may get of what it asked for: MCP scopes only, never `autonomy:write`
    nor `api`; reading alone when it named none."""
    asked = set(requested.split())
    if not asked:
        return (RUNS_READ,)
    return tuple(s for s in MCP_SCOPES if s in asked)


def start_authorization(params: Mapping[str, str], ports: OAuthPorts) -> Redirect:
    """Check an authorization request and keep it for the person's decision. Errors about
    the client or its redirect URI are answered to the browser (never redirected to an
    unchecked URI); the others go back to the client, as RFC 6749 §4.1.2.1 says. A value
    no store can keep (a NUL character, a lone surrogate) is answered to the browser too:
    it cannot be looked up, kept for the consent or sent back in a redirect."""
    for name, value in params.items():
        reason = unstorable(name) or unstorable(value)
        if reason is not None:
            raise OAuthError("invalid_request", f"a parameter {reason}")
    client = resolve_client(params.get("client_id", ""), ports)
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise OAuthError("invalid_request", "redirect_uri is not one the client registered")
    state = params.get("state", "")
    back = {"state": state} if state else {}
    if params.get("response_type") != "code":
        return _redirect(redirect_uri, error="unsupported_response_type", **back)
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
        return _redirect(
            redirect_uri, error="invalid_request", error_description="PKCE S256 required", **back
        )
    resource = params.get("resource") or ports.resource
    if resource.rstrip("/") != ports.resource:
        return _redirect(redirect_uri, error="invalid_target", **back)
    scopes = granted_scopes(params.get("scope", ""))
    if not scopes:
        return _redirect(redirect_uri, error="invalid_scope", **back)
    request_id = secrets.token_urlsafe(24)
    now = ports.identity.clock()
    ports.store.put_request(
        request_id,
        {
            "client_id": client.client_id,
            "client_name": client.client_name,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "scopes": list(scopes),
            "resource": ports.resource,
        },
        now + REQUEST_TTL,
    )
    return Redirect(f"{ports.issuer}{ports.console_path}?request={request_id}")


def pending_request(request_id: str, ports: OAuthPorts) -> dict[str, Any]:
    found = ports.store.get_request(request_id, ports.identity.clock())
    if found is None:
        raise UnknownAuthorizationRequest(
            "no pending authorization has this id (expired or decided)", {"request": request_id}
        )
    return found


def consent_binding(request_id: str, request: Mapping[str, Any]) -> bytes:
    """What the consenting passkey assertion signs over: this request, its client and scopes."""
    text = f"cairn:oauth-consent:{request_id}:{request['client_id']}:{' '.join(request['scopes'])}"
    return hashlib.sha256(text.encode()).digest()


def begin_consent(request_id: str, caller: Caller, ports: OAuthPorts) -> CeremonyStart:
    request = pending_request(request_id, ports)
    user = ports.identity.get_user(caller.user_id, caller.tenant_id)
    return ports.identity.passkeys.begin_plan_approval(
        caller.user_id,
        consent_binding(request_id, request),
        [_unb64(c) for c in user.passkeys],
    )


def _code_for(tenant: UUID) -> str:
    prefix = base64.urlsafe_b64encode(str(tenant).encode()).rstrip(b"=").decode()
    return f"cac1.{prefix}.{secrets.token_urlsafe(32)}"


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def approve_consent(
    request_id: str, ceremony_id: str, credential: dict[str, Any], caller: Caller, ports: OAuthPorts
) -> Redirect:
    """The person consents with the passkey: a code for the client, spent within a minute."""
    identity = ports.identity
    request = pending_request(request_id, ports)
    verified = identity.passkeys.finish_plan_approval(
        ceremony_id,
        credential,
        consent_binding(request_id, request),
        passkey_lookup(identity, caller.user_id),
    )
    if ports.store.take_request(request_id, identity.clock()) is None:
        raise UnknownAuthorizationRequest("this authorization was decided meanwhile")
    code = _code_for(caller.tenant_id)
    now = identity.clock()
    grant = {**request, "user_id": caller.user_id, "tenant_id": str(caller.tenant_id)}
    ports.store.put_code(str(caller.tenant_id), code_hash(code), grant, now + CODE_TTL)
    identity.record_security_event(
        "oauth_consent",
        "granted",
        tenant_id=caller.tenant_id,
        user_id=UUID(caller.user_id),
        device_id=caller.device_id,
        details={
            "client_id": request["client_id"][:200],
            "scopes": " ".join(request["scopes"]),
            "credential_id": verified.assertion.credential_id_b64,
        },
    )
    back = {"state": request["state"]} if request["state"] else {}
    return _redirect(request["redirect_uri"], code=code, iss=ports.issuer, **back)


def decline_consent(request_id: str, ports: OAuthPorts) -> Redirect:
    request = ports.store.take_request(request_id, ports.identity.clock())
    if request is None:
        raise UnknownAuthorizationRequest("no pending authorization has this id")
    back = {"state": request["state"]} if request["state"] else {}
    return _redirect(request["redirect_uri"], error="access_denied", iss=ports.issuer, **back)
