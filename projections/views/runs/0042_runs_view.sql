-- The runs view (projections/runs.py): one row per run, the approvals inbox is its escalated
-- rows. A template of projection_schemas (see 0040): `{runs}` becomes one generation's table.
INSERT INTO projection_schemas (projector, version, tables, ddl) VALUES (
    'runs', 1, ARRAY['runs'],
    $ddl$
    CREATE TABLE {runs} (
        tenant_id uuid NOT NULL,
        run_id uuid PRIMARY KEY,
        user_id text NOT NULL,
        channel text NOT NULL,
        text text NOT NULL,
        status text NOT NULL,
        plan_hash text,
        outcome text,
        escalation_expires_at timestamptz,
        failure text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        version bigint NOT NULL,
        position bigint NOT NULL
    );
    CREATE INDEX {runs}_mine ON {runs} (tenant_id, user_id, created_at DESC, run_id);
    CREATE INDEX {runs}_inbox ON {runs} (tenant_id, user_id, status);
    $ddl$
);
