"""The token endpoint and revocation of Cairn's authorization server (RFC 6749, 7009, 8707).

A redeemed code opens a session of its own for a new device of the person, named after the
client ("MCP: <client name>"): the person sees it among their devices and can revoke it
like any other. Its tokens are the identity sessions' own, with one difference: their
audience is the MCP server's URL (`mcp_sessions` signs with Cairn's keys for that audience),
so an MCP token is refused by the API and an API token by the MCP server. Refresh tokens
rotate and a reused one ends the session family (adapters/tokens/refresh_family.py); only
the client a grant was made to may refresh it here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from commands.identity.oauth import code_hash
from commands.identity.oauth_clients import OAuthError, OAuthPorts
from commands.ports.oauth import GrantRecord
from commands.ports.sessions import AccessTokenVerifier, Sessions, TokenPair
from domain.errors import DomainError, NotAuthenticated
from domain.event_context import EventContext


@dataclass(frozen=True)
class TokenPorts:
    oauth: OAuthPorts
    sessions: Sessions  # issues access tokens whose audience is the MCP resource
    tokens: AccessTokenVerifier  # verifies exactly those
    access_ttl_s: int


def _pkce_matches(verifier: str, challenge: str) -> bool:
    if not 43 <= len(verifier) <= 128:
        return False
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(expected, challenge)


def _tenant_of_code(code: str) -> str:
    parts = code.split(".")
    if len(parts) != 3 or parts[0] != "cac1" or len(code) > 300:
        raise OAuthError("invalid_grant", "the code is not valid")
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        return str(UUID(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_grant", "the code is not valid") from exc


def _answer(pair: TokenPair, scopes: str, ports: TokenPorts) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": ports.access_ttl_s,
        "refresh_token": pair.refresh_token,
        "scope": scopes,
    }


def _same_resource(asked: str | None, granted: str) -> None:
    if asked and asked.rstrip("/") != granted:
        raise OAuthError("invalid_target", "the grant is for another resource")


def redeem_code(form: Mapping[str, str], ports: TokenPorts) -> dict[str, Any]:
    code = form.get("code", "")
    tenant = _tenant_of_code(code)
    identity = ports.oauth.identity
    grant = ports.oauth.store.take_code(tenant, code_hash(code), identity.clock())
    if grant is None:
        raise OAuthError("invalid_grant", "the code is unknown, used or expired")
    if (
        form.get("client_id") != grant["client_id"]
        or form.get("redirect_uri") != grant["redirect_uri"]
    ):
        raise OAuthError("invalid_grant", "the code was issued to another client or redirect")
    if not _pkce_matches(form.get("code_verifier", ""), grant["code_challenge"]):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    _same_resource(form.get("resource"), grant["resource"])
    user = identity.get_user(grant["user_id"], UUID(tenant))
    user.check_active()
    device_id = f"mcp-{uuid4().hex}"
    user.register_device(device_id, f"MCP: {grant['client_name']}"[:100])
    context = EventContext(tenant=tenant, actor=str(user.id), device=device_id)
    identity.app.save_atomically(user, context=context)
    scopes = " ".join(grant["scopes"])
    pair = ports.sessions.create_session(
        tenant, str(user.id), device_id, scopes=tuple(grant["scopes"])
    )
    ports.oauth.store.record_grant(
        tenant,
        pair.session_id,
        GrantRecord(grant["client_id"], grant["resource"], scopes),
        identity.clock(),
    )
    identity.record_security_event(
        "login",
        "succeeded",
        tenant_id=UUID(tenant),
        user_id=user.id,
        device_id=device_id,
        details={"grant": "authorization_code", "client_id": grant["client_id"][:200]},
        context=context,
    )
    return _answer(pair, scopes, ports)


def refresh(form: Mapping[str, str], ports: TokenPorts) -> dict[str, Any]:
    token = form.get("refresh_token", "")
    found = ports.oauth.store.grant_of_refresh_token(token)
    if found is None or form.get("client_id") != found.grant.client_id:
        raise OAuthError("invalid_grant", "the refresh token is not valid for this client")
    _same_resource(form.get("resource"), found.grant.resource)
    try:
        pair = ports.sessions.refresh(token)
    except NotAuthenticated as exc:  # spent, expired, revoked; a reuse ended the family
        raise OAuthError("invalid_grant", exc.message) from exc
    return _answer(pair, found.grant.scopes, ports)


def token(form: Mapping[str, str], ports: TokenPorts) -> dict[str, Any]:
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        return redeem_code(form, ports)
    if grant_type == "refresh_token":
        return refresh(form, ports)
    raise OAuthError("unsupported_grant_type", "authorization_code or refresh_token")


def revoke(form: Mapping[str, str], ports: TokenPorts) -> None:
    """RFC 7009: end the grant's session, whichever of its tokens is given. Unknown tokens
    are answered alike (200), so revocation tells nothing about a token."""
    given = form.get("token", "")
    found = ports.oauth.store.grant_of_refresh_token(given)
    if found is not None:
        if form.get("client_id") in (None, found.grant.client_id):
            ports.sessions.revoke_session(found.tenant, found.session_id, "oauth_revoked")
        return
    try:
        claims = ports.tokens.verify_access_token(given)
    except DomainError:
        return
    grant = ports.oauth.store.grant_of_session(claims.tenant, claims.session_id)
    if grant is not None and form.get("client_id") in (None, grant.client_id):
        ports.sessions.revoke_session(claims.tenant, claims.session_id, "oauth_revoked")
