-- First views (projections/directory/): the tenant user directory and the security events.
-- Templates of projection_schemas (see 0040): `{name}` becomes the table of one generation,
-- e.g. directory_users__g3; the engine adds row-level security on tenant_id to each table.
-- No personal plaintext and no sealed personal tokens are projected.

INSERT INTO projection_schemas (projector, version, tables, ddl) VALUES (
    'directory_users', 1, ARRAY['directory_users'],
    $ddl$
    CREATE TABLE {directory_users} (
        tenant_id uuid NOT NULL,
        user_id uuid PRIMARY KEY,
        capabilities text[] NOT NULL,
        -- Devices and passkeys not revoked or removed.
        device_count integer NOT NULL CHECK (device_count >= 0),
        passkey_count integer NOT NULL CHECK (passkey_count >= 0),
        totp_enabled boolean NOT NULL,
        erased boolean NOT NULL,
        registered_at timestamptz NOT NULL,
        last_login_at timestamptz,
        updated_at timestamptz NOT NULL,
        -- The aggregate version and the store position of the last event applied.
        version bigint NOT NULL,
        position bigint NOT NULL
    );
    CREATE INDEX {directory_users}_page ON {directory_users} (tenant_id, registered_at, user_id);
    $ddl$
);

INSERT INTO projection_schemas (projector, version, tables, ddl) VALUES (
    'security_events', 1, ARRAY['security_events'],
    $ddl$
    CREATE TABLE {security_events} (
        tenant_id uuid NOT NULL,
        position bigint PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        kind text NOT NULL,
        outcome text NOT NULL,
        user_id uuid,
        device_id text,
        occurred_at timestamptz NOT NULL,
        details jsonb NOT NULL
    );
    CREATE INDEX {security_events}_page ON {security_events} (tenant_id, position);
    CREATE INDEX {security_events}_user ON {security_events} (tenant_id, user_id, position);
    $ddl$
);
