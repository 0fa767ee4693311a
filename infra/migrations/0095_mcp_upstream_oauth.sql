-- OAuth clients Cairn registered at the authorization servers of people's upstream MCP
-- servers (commands/mcp/upstream_oauth.py, decision 0035), one per server, named by the
-- connection provider `mcp-<server id>`. Endpoints and a public client id only (PKCE, no
-- secret): no personal data, and the OAuth client looks them up before it knows a tenant,
-- like oauth_clients (0085). The person's tokens live in the vault under their connection.

CREATE TABLE mcp_oauth_providers (
    provider text PRIMARY KEY,
    config jsonb NOT NULL,
    registered_at timestamptz NOT NULL
);
