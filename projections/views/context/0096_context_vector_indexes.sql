-- Per-person vector indexes of the context view (decision 0036, adapters/context/indexes.py):
-- a person holding many memories of one model gets a partial HNSW index of their own rows
-- (`WHERE tenant_id = .. AND user_id = .. AND model = .. AND dim = ..`), built in the
-- background on the active generation's table and used by search only once its recall was
-- checked against the exact scan. One row per index; not a view table (no generation's DDL):
-- a rebuilt generation starts without indexes and the keeper builds them again.
CREATE TABLE context_vector_indexes (
    index_name text PRIMARY KEY,
    generation integer NOT NULL,
    tenant_id uuid NOT NULL,
    user_id text NOT NULL,
    model text NOT NULL,
    dim integer NOT NULL CHECK (dim > 0),
    -- building: not used yet; ready: search uses it with ef_search; rejected: its checked
    -- recall was too low, the person stays on the exact scan (the index is dropped).
    status text NOT NULL CHECK (status IN ('building', 'ready', 'rejected')),
    ef_search integer,
    rows_indexed bigint NOT NULL,
    recall real,
    build_ms bigint,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (generation, tenant_id, user_id, model, dim),
    CHECK (status <> 'ready' OR ef_search IS NOT NULL)
);

ALTER TABLE context_vector_indexes ENABLE ROW LEVEL SECURITY;
ALTER TABLE context_vector_indexes FORCE ROW LEVEL SECURITY;
-- Search (cairn_app) reads its tenant's rows; the keeper (cairn_owner, which owns the view
-- tables it indexes) reads and writes every tenant's.
CREATE POLICY context_vector_indexes_tenant_rows ON context_vector_indexes FOR SELECT
    USING (tenant_id = NULLIF(current_setting('cairn.tenant_id', true), '')::uuid);
CREATE POLICY context_vector_indexes_keeper ON context_vector_indexes TO cairn_owner
    USING (true) WITH CHECK (true);
GRANT SELECT ON context_vector_indexes TO cairn_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON context_vector_indexes TO cairn_owner;
