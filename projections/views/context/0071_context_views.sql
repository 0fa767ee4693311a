-- The context graph's views (projections/views/context): memories with their text, full-text
-- vector and embedding; entities; bi-temporal facts and the history of their closures. A
-- template of projection_schemas (see 0040): `{table}` becomes one generation's table.
--
-- Search scans exactly within one person's rows (decision 0026): the person-leading btree
-- indexes below find them; no approximate index filtered after its scan decides recall.
INSERT INTO projection_schemas (projector, version, tables, ddl) VALUES (
    'context', 1,
    ARRAY['context_memories', 'context_entities', 'context_facts', 'context_fact_closures'],
    $ddl$
    CREATE TABLE {context_memories} (
        tenant_id uuid NOT NULL,
        user_id text NOT NULL,
        memory_id uuid PRIMARY KEY,
        kind text NOT NULL,
        text text NOT NULL,
        search tsvector NOT NULL,
        model text,
        dim integer,
        embedding vector,
        noted_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        position bigint NOT NULL
    );
    CREATE INDEX {context_memories}_person
        ON {context_memories} (tenant_id, user_id, model, noted_at DESC, memory_id);
    CREATE INDEX {context_memories}_search ON {context_memories} USING gin (search);

    CREATE TABLE {context_entities} (
        tenant_id uuid NOT NULL,
        user_id text NOT NULL,
        entity_id uuid PRIMARY KEY,
        kind text NOT NULL,
        name text NOT NULL,
        normal_name text NOT NULL,
        merged_into uuid,
        source_memory_id uuid,
        recognised_at timestamptz NOT NULL,
        position bigint NOT NULL
    );
    CREATE INDEX {context_entities}_name ON {context_entities} (tenant_id, user_id, normal_name);
    CREATE INDEX {context_entities}_source ON {context_entities} (source_memory_id);
    CREATE INDEX {context_entities}_merged ON {context_entities} (merged_into);

    CREATE TABLE {context_facts} (
        tenant_id uuid NOT NULL,
        user_id text NOT NULL,
        fact_id text PRIMARY KEY,
        entity_id uuid NOT NULL,
        predicate text NOT NULL,
        value text NOT NULL,
        valid_from timestamptz NOT NULL,
        -- As known when the fact was recorded, and as known now (closures below).
        initial_valid_to timestamptz,
        valid_to timestamptz,
        source_memory_id uuid,
        source_event text,
        recorded_at timestamptz NOT NULL,
        position bigint NOT NULL
    );
    CREATE INDEX {context_facts}_entity ON {context_facts} (tenant_id, user_id, entity_id);
    CREATE INDEX {context_facts}_source ON {context_facts} (source_memory_id);

    -- Each change of a fact's end of validity, at the position it was learnt: `known_as_of`
    -- reads the last one at or before it. valid_to NULL: it holds again (a withdrawal).
    CREATE TABLE {context_fact_closures} (
        tenant_id uuid NOT NULL,
        fact_id text NOT NULL,
        valid_to timestamptz,
        superseded_by text,
        position bigint NOT NULL,
        PRIMARY KEY (fact_id, position)
    );
    CREATE INDEX {context_fact_closures}_by ON {context_fact_closures} (superseded_by);
    $ddl$
);
