-- The projection engine (projections/, docs/projections.md): its bookkeeping tables and the
-- two roles every view table is used through.
--
-- cairn_owner owns the view tables and is the role projectors write as; a policy lets it see
-- and write every tenant's rows. cairn_app is what queries run as: it reads through the
-- tenant policy only. Neither can log in, be a superuser or bypass RLS: the service's login
-- switches to them per transaction with SET LOCAL ROLE (superusers and the table owner would
-- otherwise bypass the policies, see FIELD-NOTES).

-- Roles are per cluster, databases are not: another database of the cluster may have created
-- them already, possibly at this very moment (unique_violation).
DO $$
BEGIN
    CREATE ROLE cairn_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
    CREATE ROLE cairn_owner NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

-- Refuse roles someone made more powerful: a BYPASSRLS cairn_app would see every tenant.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles
               WHERE rolname IN ('cairn_app', 'cairn_owner')
                 AND (rolsuper OR rolbypassrls OR rolcanlogin)) THEN
        RAISE EXCEPTION 'cairn_app and cairn_owner must be NOLOGIN, NOSUPERUSER, NOBYPASSRLS';
    END IF;
    IF pg_has_role('cairn_app', 'cairn_owner', 'USAGE') THEN
        RAISE EXCEPTION 'cairn_app must not be a member of cairn_owner';
    END IF;
END $$;

-- The service's login may switch to both roles. It does not inherit the owner's rights
-- (INHERIT FALSE): only an explicit SET ROLE cairn_owner, which only projectors do, writes.
GRANT cairn_app TO CURRENT_USER;
GRANT cairn_owner TO CURRENT_USER WITH INHERIT FALSE;

GRANT USAGE ON SCHEMA public TO cairn_app;
GRANT USAGE, CREATE ON SCHEMA public TO cairn_owner;

-- View schemas: one DDL template per projector version, written by migrations (a schema
-- change is a new migration with a new version). `{table}` placeholders become the physical
-- table names of one generation; every listed table gets tenant row-level security.
CREATE TABLE projection_schemas (
    projector text NOT NULL CHECK (projector ~ '^[a-z][a-z0-9_]{0,39}$'),
    version integer NOT NULL CHECK (version > 0),
    tables text[] NOT NULL CHECK (cardinality(tables) > 0),
    ddl text NOT NULL,
    PRIMARY KEY (projector, version)
);

-- Each build of a projector is a generation with its own tables (`<table>__g<generation>`).
-- A rebuild fills a new generation beside the active one, then switches in one transaction.
CREATE TABLE projection_generations (
    projector text NOT NULL,
    generation integer NOT NULL CHECK (generation > 0),
    version integer NOT NULL,
    status text NOT NULL CHECK (status IN ('building', 'active', 'retired')),
    -- The event store it was built from: positions mean nothing in another one.
    source text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at timestamptz,
    dropped boolean NOT NULL DEFAULT false,
    PRIMARY KEY (projector, generation)
);

-- The active-version pointer: at most one active generation per projector.
CREATE UNIQUE INDEX projection_generations_one_active
    ON projection_generations (projector) WHERE status = 'active';

-- The eventsourcing library's single-row tracking table (PostgresTrackingRecorder), one row
-- per generation: application_name is '<projector>@g<generation>'. It is written in the same
-- transaction as the view rows; the library's insert refuses a position not above the last.
CREATE TABLE projection_tracking (
    application_name text,
    notification_id bigint,
    PRIMARY KEY (application_name)
);

-- Poison events: the handler raised (or its SQL failed) for the event at `position`. Only the
-- error is kept, never the payload (it stays in the event store, which `retry` reads again).
CREATE TABLE projection_dead_letters (
    projector text NOT NULL,
    generation integer NOT NULL,
    position bigint NOT NULL,
    topic text NOT NULL,
    originator_id text NOT NULL,
    originator_version bigint NOT NULL,
    error text NOT NULL,
    traceback text NOT NULL,
    status text NOT NULL CHECK (status IN ('parked', 'resolved')),
    attempts integer NOT NULL DEFAULT 1,
    parked_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    PRIMARY KEY (projector, generation, position)
);

CREATE INDEX projection_dead_letters_parked
    ON projection_dead_letters (projector, generation, position) WHERE status = 'parked';

GRANT SELECT ON projection_schemas TO cairn_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_generations, projection_tracking,
    projection_dead_letters TO cairn_owner;
-- Queries wait for positions (read-your-writes): they read where the active generation is.
GRANT SELECT ON projection_generations, projection_tracking TO cairn_app;
