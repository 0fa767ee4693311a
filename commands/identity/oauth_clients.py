"""Who may ask Cairn's authorization server for a code: clients named by a Client ID Metadata
Document (an https URL that is their client id), or registered dynamically (RFC 7591).

Every client is public (no secret: PKCE binds the code to the client that asked). Redirect
URIs are https, or http on a loopback host for native apps (RFC 8252 §7.3).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from commands.identity.context import IdentityPorts
from commands.ports.oauth import OAuthStore
from domain.errors import InvalidInput
from domain.storable import unstorable

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
MAX_REDIRECT_URIS = 10


@dataclass(frozen=True)
class OAuthPorts:
    """What the authorization server acts through; built in commands/mcp/composition.py."""

    identity: IdentityPorts
    store: OAuthStore
    issuer: str  # Cairn's origin, e.g. https://cairn.example
    resource: str  # the MCP server's URL: the only audience Cairn issues tokens for here
    # A client id that is an https URL names its Client ID Metadata Document: fetched by this.
    fetch_client_document: Callable[[str], dict[str, Any]]
    console_path: str = "/#/consent"


class OAuthError(InvalidInput):
    """An RFC 6749 / 7591 error: `error` is the protocol's code, answered as-is."""

    code = "oauth_error"

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description, {"error": error})
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True)
class Client:
    client_id: str
    client_name: str
    redirect_uris: tuple[str, ...]


def valid_redirect_uri(uri: object) -> bool:
    if not isinstance(uri, str) or len(uri) > 500 or "#" in uri or unstorable(uri):
        return False
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def is_metadata_document_url(client_id: str) -> bool:
    parts = urlsplit(client_id)
    return parts.scheme == "https" and bool(parts.hostname) and parts.path not in ("", "/")


def _client_from(client_id: str, metadata: Mapping[str, Any]) -> Client:
    uris = metadata.get("redirect_uris")
    if (
        not isinstance(uris, list)
        or not 0 < len(uris) <= MAX_REDIRECT_URIS
        or not all(valid_redirect_uri(u) for u in uris)
    ):
        raise OAuthError("invalid_redirect_uri", "redirect_uris must be https or loopback http")
    method = metadata.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise OAuthError("invalid_client_metadata", "only public clients (auth method none)")
    grants = metadata.get("grant_types", ["authorization_code"])
    if not isinstance(grants, list) or not all(
        isinstance(g, str) and g in GRANT_TYPES for g in grants
    ):
        raise OAuthError("invalid_client_metadata", "grant_types: authorization_code, refresh")
    name = str(metadata.get("client_name") or client_id)[:100]
    _check_storable("client_name", name)
    return Client(client_id, name, tuple(uris))


def _check_storable(field: str, text: str) -> None:
    reason = unstorable(text)
    if reason is not None:
        raise OAuthError("invalid_client_metadata", f"{field} {reason}")


def resolve_client(client_id: str, ports: OAuthPorts) -> Client:
    """The client a request names; an https URL is fetched as its metadata document, whose
    `client_id` must be that very URL."""
    if not client_id or len(client_id) > 500:
        raise OAuthError("invalid_request", "client_id is missing")
    if is_metadata_document_url(client_id):
        try:
            document = ports.fetch_client_document(client_id)
        except (OSError, ValueError) as exc:
            raise OAuthError("invalid_client", "the client's metadata document") from exc
        if document.get("client_id") != client_id:
            raise OAuthError("invalid_client", "the metadata document names another client")
        return _client_from(client_id, document)
    stored = ports.store.get_client(client_id)
    if stored is None:
        raise OAuthError("invalid_client", "unknown client", status=401)
    return _client_from(client_id, stored)


def register_client(metadata: Mapping[str, Any], ports: OAuthPorts) -> dict[str, Any]:
    """RFC 7591 dynamic registration of a public client; answers the registered metadata."""
    client_id = "mcp_" + secrets.token_urlsafe(18)
    client = _client_from(client_id, metadata)
    kept: dict[str, Any] = {
        "client_name": client.client_name,
        "redirect_uris": list(client.redirect_uris),
        "grant_types": list(metadata.get("grant_types", ["authorization_code"])),
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    if isinstance(metadata.get("scope"), str):
        kept["scope"] = metadata["scope"][:200]
        _check_storable("scope", kept["scope"])
    now = ports.identity.clock()
    ports.store.register_client(client_id, kept, now)
    return {**kept, "client_id": client_id, "client_id_issued_at": int(now.timestamp())}


def authorization_server_metadata(ports: OAuthPorts) -> dict[str, Any]:
    """RFC 8414 metadata of Cairn's authorization server."""
    base = ports.issuer
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "registration_endpoint": f"{base}/oauth/register",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "scopes_supported": ["runs:read", "runs:write"],
        "response_types_supported": ["code"],
        "grant_types_supported": sorted(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
    }


def protected_resource_metadata(ports: OAuthPorts) -> dict[str, Any]:
    """RFC 9728 metadata of the MCP server as a protected resource."""
    return {
        "resource": ports.resource,
        "authorization_servers": [ports.issuer],
        "scopes_supported": ["runs:read", "runs:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Cairn",
    }
