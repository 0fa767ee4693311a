"""Starts real nats-server, PostgreSQL (pgvector) and Redis from pip-installed binaries."""

from infra.stack.errors import StackError
from infra.stack.launcher import LocalStack, StackEndpoints
from infra.stack.settings import StackSettings

__all__ = ["LocalStack", "StackEndpoints", "StackError", "StackSettings"]
