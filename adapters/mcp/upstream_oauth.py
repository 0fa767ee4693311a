"""OAuth for upstream MCP servers (decision 0035): find the server's authorization server the
way the MCP spec says (a 401 naming its RFC 9728 metadata, then RFC 8414), register Cairn
there as a public client (RFC 7591, PKCE, no secret), and keep that registration as a
provider of the integrations' connection flow, named `mcp-<server id>`. The person's tokens
are then a Connection like any other: in the vault, refreshed through the same serialised
path. Every fetch goes through the private-address guard of the server's registration.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from adapters.integrations.oauth.providers import ProviderConfig
from adapters.llm.endpoints import guarded_http_client
from commands.ports.endpoints import EndpointGuard
from commands.ports.vault import Secret
from domain.errors import InvalidInput, Unavailable

TIMEOUT_S = 5.0
MAX_BYTES = 65_536
_RESOURCE_METADATA = re.compile(r'resource_metadata="([^"]+)"')
PROBE = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


class UpstreamAuthorizationRefused(InvalidInput):
    code = "mcp_server_authorization_refused"


def _json(client: httpx.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        answer = client.request(method, url, timeout=TIMEOUT_S, **kwargs)
    except httpx.HTTPError as exc:
        raise Unavailable(
            "the MCP server's authorization server did not answer; retry later",
            {"url": url[:200], "retry_after": 5},
        ) from exc
    if answer.status_code not in (200, 201) or len(answer.content) > MAX_BYTES:
        raise UpstreamAuthorizationRefused(
            "the MCP server's authorization metadata could not be read",
            {"url": url[:200], "status": answer.status_code},
        )
    found = json.loads(answer.content)
    if not isinstance(found, dict):
        raise UpstreamAuthorizationRefused("authorization metadata is not a JSON object")
    return found


class McpServerAuthorization:
    """Implements `commands.ports.mcp_upstream.UpstreamAuthorization`."""

    def __init__(self, pool: ConnectionPool[Any], guard: EndpointGuard, redirect_uri: str):
        self.pool = pool
        self.guard = guard
        self.redirect_uri = redirect_uri
        self._known: dict[str, ProviderConfig] = {}

    def challenge(self, url: str) -> str | None:
        """The server's `WWW-Authenticate` when it answers 401 without a token, else None."""
        headers = {"Accept": "application/json, text/event-stream"}
        with guarded_http_client(self.guard) as client:
            try:
                answer = client.post(url, json=PROBE, headers=headers, timeout=TIMEOUT_S)
            except httpx.HTTPError:
                return None  # the listing that follows says it is unavailable
        if answer.status_code != 401:
            return None
        return str(answer.headers.get("www-authenticate", ""))

    def register(self, provider: str, url: str, challenge: str) -> None:
        """Discover the authorization server and register Cairn there for this resource."""
        parts = urlsplit(url)
        found = _RESOURCE_METADATA.search(challenge)
        metadata_url = (
            found.group(1)
            if found
            else f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path}"
        )
        with guarded_http_client(self.guard) as client:
            resource = _json(client, "GET", metadata_url)
            if resource.get("resource") not in (url, url.rstrip("/")):
                raise UpstreamAuthorizationRefused(
                    "the server's metadata names another resource", {"url": url[:200]}
                )
            servers = resource.get("authorization_servers") or []
            if not servers or not isinstance(servers[0], str):
                raise UpstreamAuthorizationRefused("the server names no authorization server")
            issuer = servers[0].rstrip("/")
            where = urlsplit(issuer)
            meta = _json(
                client,
                "GET",
                f"{where.scheme}://{where.netloc}/.well-known/oauth-authorization-server{where.path}",
            )
            if meta.get("issuer", "").rstrip("/") != issuer or "S256" not in meta.get(
                "code_challenge_methods_supported", []
            ):
                raise UpstreamAuthorizationRefused(
                    "the authorization server's metadata is not its own, or has no PKCE S256"
                )
            if not meta.get("registration_endpoint"):
                raise UpstreamAuthorizationRefused(
                    "the authorization server offers no dynamic client registration"
                )
            registered = _json(
                client,
                "POST",
                meta["registration_endpoint"],
                json={
                    "client_name": "Cairn",
                    "redirect_uris": [self.redirect_uri],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                },
            )
        config = {
            "client_id": str(registered["client_id"]),
            "authorization_endpoint": str(meta["authorization_endpoint"]),
            "token_endpoint": str(meta["token_endpoint"]),
            "revocation_endpoint": str(meta.get("revocation_endpoint") or ""),
            "issuer": str(meta["issuer"]),
            "sends_iss": bool(meta.get("authorization_response_iss_parameter_supported")),
            "scopes": [str(s) for s in resource.get("scopes_supported") or []][:20],
            "resource": url,
        }
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO mcp_oauth_providers (provider, config, registered_at)"
                " VALUES (%s, %s, %s) ON CONFLICT (provider) DO UPDATE SET config ="
                " EXCLUDED.config, registered_at = EXCLUDED.registered_at",
                (provider, Jsonb(config), datetime.now(UTC)),
            )
        self._known.pop(provider, None)

    def provider(self, provider: str) -> ProviderConfig | None:
        """The registration as the OAuth client's provider configuration (cached: it only
        changes when the server is registered again)."""
        if not provider.startswith("mcp-"):
            return None
        known = self._known.get(provider)
        if known is not None:
            return known
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT config FROM mcp_oauth_providers WHERE provider = %s", (provider,)
            ).fetchone()
        if row is None:
            return None
        c = row[0]
        resource = {"resource": c["resource"]}  # RFC 8707, as the MCP spec requires
        config = ProviderConfig(
            name=provider,
            shape="mcp",
            client_id=c["client_id"],
            client_secret=Secret.from_text(""),
            authorization_endpoint=c["authorization_endpoint"],
            token_endpoint=c["token_endpoint"],
            revocation_endpoint=c["revocation_endpoint"],
            issuer=c["issuer"],
            sends_iss=c["sends_iss"],
            base_scopes=tuple(c["scopes"]),
            extra=resource,
            token_params=resource,
        )
        self._known[provider] = config
        return config
