-- The user directory, version 2 (projections/views/directory/users.py): the same table, built
-- again so that rows of users who generated or used recovery codes catch up with their
-- aggregate's version and position (version 1 ignored those events).
INSERT INTO projection_schemas (projector, version, tables, ddl)
SELECT 'directory_users', 2, tables, ddl FROM projection_schemas
WHERE projector = 'directory_users' AND version = 1;
