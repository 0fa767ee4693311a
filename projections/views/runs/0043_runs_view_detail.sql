-- The runs view, version 2 (projections/runs.py): everything `GET /v1/runs/{id}` shows, so the
-- route answers from the view instead of replaying the run from the event store: the plan, the
-- decision record, the steps, and the timeline (event type, version, time). An expired
-- escalation is `expired`, no longer `denied`. The projector builds it beside version 1 and
-- switches (docs/projections.md, generations).
INSERT INTO projection_schemas (projector, version, tables, ddl) VALUES (
    'runs', 2, ARRAY['runs'],
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
        plan jsonb,
        decision jsonb,
        steps jsonb NOT NULL DEFAULT '{}',
        timeline jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        version bigint NOT NULL,
        position bigint NOT NULL
    );
    CREATE INDEX {runs}_mine ON {runs} (tenant_id, user_id, created_at DESC, run_id);
    CREATE INDEX {runs}_inbox ON {runs} (tenant_id, user_id, status);
    $ddl$
);
