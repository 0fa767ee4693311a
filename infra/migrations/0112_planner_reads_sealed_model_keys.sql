-- A plan reads its tenant's sealed model keys in the same statement as the person's views
-- (adapters/context/planning_views.py, decision 0056), as `cairn_app`: the vault's own
-- row-level security (0010, forced) keeps each tenant to its own rows. Read only, and only
-- ciphertexts and wrapped data keys: opening one needs the KEK, which the database never has.

GRANT SELECT ON vault_secrets, vault_data_keys TO cairn_app;
