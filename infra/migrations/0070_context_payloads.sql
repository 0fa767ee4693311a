-- The context graph's forgettable payloads (docs/context.md, decision 0027): the plaintext of
-- every personal value a context event seals (a memory's text, an entity's name, a fact's
-- value), with the memory's embedding. Events refer to a payload by id; the context projector
-- reads the plaintext from here when it applies the event. Forgetting deletes the rows of the
-- memory's subject (and destroys its vault key): a rebuild of the views then finds nothing to
-- bring back. Not a view: rebuilding the projection never touches it.
CREATE TABLE context_payloads (
    tenant_id uuid NOT NULL,
    payload_id uuid PRIMARY KEY,
    user_id text NOT NULL,
    -- The vault subject that seals it in its event (memory:<id>): what forgetting deletes.
    subject text NOT NULL,
    body text NOT NULL,
    model text,
    dim integer CHECK (dim IS NULL OR dim > 0),
    embedding vector,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((model IS NULL) = (embedding IS NULL))
);

CREATE INDEX context_payloads_subject ON context_payloads (tenant_id, subject);

ALTER TABLE context_payloads ENABLE ROW LEVEL SECURITY;
ALTER TABLE context_payloads FORCE ROW LEVEL SECURITY;

-- The command side writes and deletes one tenant's rows per transaction.
CREATE POLICY context_payloads_of_tenant ON context_payloads
    USING (tenant_id = NULLIF(current_setting('cairn.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('cairn.tenant_id', true), '')::uuid);
-- The projector (cairn_owner) reads every tenant's, as it writes every tenant's view rows.
CREATE POLICY context_payloads_projector ON context_payloads FOR SELECT TO cairn_owner
    USING (true);
GRANT SELECT ON context_payloads TO cairn_owner;
