-- Tokens of connected accounts (adapters/integrations/store.py, docs/integrations.md). One row
-- per connection holding its tokens SEALED by the vault under a key of that connection alone
-- (subject `connection:<id>`): disconnecting erases the key, and every copy of the row (a
-- backup, a replica) can no longer be decrypted. Nothing else here is secret.
--
-- The row is also what serialises refreshes across processes and hosts: a refresh holds it
-- FOR UPDATE, reads it again inside the lock, and writes with a compare-and-swap on `version`.
CREATE TABLE connection_tokens (
    tenant_id text NOT NULL CHECK (tenant_id <> ''),
    connection_id uuid NOT NULL,
    person_id text NOT NULL CHECK (person_id <> ''),
    provider text NOT NULL CHECK (provider <> ''),
    status text NOT NULL CHECK (status IN ('active', 'reauth_required')),
    sealed text NOT NULL CHECK (sealed LIKE 'pii:v1:%'),
    expires_at timestamptz NOT NULL,
    scopes text[] NOT NULL DEFAULT '{}',
    version bigint NOT NULL DEFAULT 1,
    -- Transient refresh failures in a row (a 5xx, a timeout) and when to try again.
    failures integer NOT NULL DEFAULT 0,
    retry_at timestamptz,
    last_error text,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_id)
);

ALTER TABLE connection_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE connection_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY connection_tokens_of_tenant ON connection_tokens
    USING (tenant_id = current_setting('cairn.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('cairn.tenant_id', true));
