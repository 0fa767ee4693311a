-- A plan reads its tenant's sealed model keys in the same statement as the person's views
-- (adapters/context/planning_views.py, decision 0056). That statement runs as cairn_planner:
-- everything cairn_app reads, and the vault's two tables of sealed secrets and wrapped data
-- keys, through the vault's own row-level security (0010, forced: the tenant set only). It
-- is a role of its own so that cairn_app, which analysts may be granted (docs/projections.md),
-- still reads no vault row, not even a ciphertext or a record id.

-- Roles are per cluster (see 0040): another database may have created it already.
DO $$
BEGIN
    CREATE ROLE cairn_planner NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles
               WHERE rolname = 'cairn_planner' AND (rolsuper OR rolbypassrls OR rolcanlogin)) THEN
        RAISE EXCEPTION 'cairn_planner must be NOLOGIN, NOSUPERUSER, NOBYPASSRLS';
    END IF;
    IF pg_has_role('cairn_planner', 'cairn_owner', 'USAGE') THEN
        RAISE EXCEPTION 'cairn_planner must not be a member of cairn_owner';
    END IF;
END $$;

GRANT cairn_app TO cairn_planner;
GRANT SELECT ON vault_secrets, vault_data_keys TO cairn_planner;
GRANT cairn_planner TO CURRENT_USER;
