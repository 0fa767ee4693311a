-- Cairn's OAuth authorization server for MCP clients (commands/identity/oauth.py, decision
-- 0031). Clients and pending authorization requests belong to no tenant yet (the person has
-- not signed in when they are made); codes and grants do, and are tenant-isolated.

-- Clients registered dynamically (RFC 7591). Clients named by a Client ID Metadata Document
-- are not stored: their document is fetched when they ask.
CREATE TABLE oauth_clients (
    client_id text PRIMARY KEY,
    metadata jsonb NOT NULL,
    registered_at timestamptz NOT NULL
);

-- Authorization requests waiting for the person's consent in the console (minutes).
CREATE TABLE oauth_requests (
    id text PRIMARY KEY,
    request jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX oauth_requests_by_expiry ON oauth_requests (expires_at);

-- Authorization codes (only a SHA-256 hash is stored), spent once.
CREATE TABLE oauth_codes (
    code_hash bytea PRIMARY KEY,
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    grant_data jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Which session a client's grant opened: its refresh tokens are the session's own (rotation
-- and reuse detection of adapters/tokens), redeemable at /oauth/token by that client only.
CREATE TABLE oauth_grants (
    session_id uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    client_id text NOT NULL,
    resource text NOT NULL,
    scopes text NOT NULL,
    created_at timestamptz NOT NULL
);

ALTER TABLE oauth_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_codes FORCE ROW LEVEL SECURITY;
ALTER TABLE oauth_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY oauth_codes_of_tenant ON oauth_codes
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
CREATE POLICY oauth_grants_of_tenant ON oauth_grants
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
