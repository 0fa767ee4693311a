"""Local stack launcher, NATS/PostgreSQL configuration, SQL migrations, deployment files."""
