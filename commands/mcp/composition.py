"""The composition root of Cairn's MCP server and its authorization server: built once per API
process from the process's services, with the identity's signing keys and session store.

The issuer is the console's origin (the first of `CAIRN_ORIGINS`) and the MCP server's
resource URL is that origin + `/mcp`: no setting of their own, so the URL a person types
into their MCP client is the one tokens are issued for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from adapters.llm.endpoints import guarded_http_client
from adapters.mcp.oauth_store import PostgresOAuthStore
from adapters.tokens.access import AccessTokens
from adapters.tokens.sessions import PostgresSessions
from commands.bootstrap import Services, upstream_ports
from commands.identity.oauth_clients import OAuthPorts
from commands.identity.oauth_tokens import TokenPorts
from commands.mcp.upstream_service import UpstreamPorts
from commands.ports.endpoints import EndpointGuard

MCP_PATH = "/mcp"
CLIENT_DOCUMENT_MAX_BYTES = 16_384


@dataclass(frozen=True)
class McpServices:
    oauth: OAuthPorts
    tokens: TokenPorts
    upstream: UpstreamPorts


def fetch_client_document(url: str, guard: EndpointGuard) -> dict[str, Any]:
    """A Client ID Metadata Document: https only, a public address, no redirects, small, JSON
    object."""
    try:
        with guarded_http_client(guard) as client:
            response = client.get(url, headers={"Accept": "application/json"}, timeout=3.0)
    except httpx.HTTPError as exc:
        raise ValueError(f"client metadata document: {type(exc).__name__}") from exc
    if response.status_code != 200 or len(response.content) > CLIENT_DOCUMENT_MAX_BYTES:
        raise ValueError(f"client metadata document: HTTP {response.status_code}")
    document = json.loads(response.content)
    if not isinstance(document, dict):
        raise ValueError("client metadata document is not a JSON object")
    return document


def build_mcp(services: Services) -> McpServices:
    issuer = services.settings.origins[0].rstrip("/")
    upstream = upstream_ports(services)
    guard = upstream.guard  # also for the clients' metadata documents
    resource = issuer + MCP_PATH
    first_party = services.identity.tokens
    assert isinstance(first_party, AccessTokens)
    tokens = AccessTokens(
        first_party.keys,
        issuer=issuer,
        audience=resource,
        ttl_s=first_party.ttl_s,
        clock=first_party.clock,
        remember=first_party.remember,
    )
    sessions = PostgresSessions(services.pool, tokens)
    sessions.on_revoked.append(lambda _tenant, ids: services.principals.forget_sessions(ids))
    oauth = OAuthPorts(
        identity=services.identity,
        store=PostgresOAuthStore(services.pool),
        issuer=issuer,
        resource=resource,
        fetch_client_document=partial(fetch_client_document, guard=guard),
    )
    return McpServices(oauth, TokenPorts(oauth, sessions, tokens, first_party.ttl_s), upstream)
