-- Sessions bound to devices, and their rotating refresh tokens (adapters/tokens/sessions.py).
-- Only a SHA-256 hash of each refresh token is stored. Rows are tenant-isolated with row-level
-- security: every statement of the adapter runs with cairn.tenant_id set for its transaction.

CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    user_id text NOT NULL,
    device_id text NOT NULL,
    -- The rotation chain this session belongs to: a reused refresh token ends the family.
    family_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    -- Last passkey login or step-up; carried into every access token as auth_time.
    authenticated_at timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    revoked_at timestamptz,
    revoke_reason text,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);

CREATE INDEX sessions_active_by_device ON sessions (tenant_id, device_id)
    WHERE revoked_at IS NULL;
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id);
CREATE INDEX sessions_by_family ON sessions (family_id);

CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    family_id uuid NOT NULL,
    parent_id uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    used_at timestamptz,
    expires_at timestamptz NOT NULL
);

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;

-- current_setting(..., true) is NULL or '' when no tenant is set: nothing matches (fail closed).
CREATE POLICY sessions_of_tenant ON sessions
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
CREATE POLICY refresh_tokens_of_tenant ON refresh_tokens
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
