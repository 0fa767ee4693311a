"""PostgreSQL: connection helpers and the SQL migration runner."""
