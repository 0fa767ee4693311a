"""Starts real nats-server, PostgreSQL (pgvector) and Redis from pip-installed binaries.

The launcher is `infra.stack.launcher` (`LocalStack`, `StackEndpoints`). It is not imported
here: it imports the servers' clients (psycopg, redis, nats: ~0.4 s of CPU), and a `cairn`
command that only needs the error or the settings would pay for them (decision 0077)."""

from infra.stack.errors import StackError
from infra.stack.settings import StackSettings

__all__ = ["StackError", "StackSettings"]
