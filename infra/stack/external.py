"""Reachability checks for servers given by URL: fail fast with a line a person can act on."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import psycopg
import redis

from infra.stack.errors import StackError


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_nats(url: str, env_name: str = "CAIRN_NATS_URL", timeout: float = 3.0) -> None:
    first = url.split(",")[0]
    parts = urlsplit(first if "://" in first else f"nats://{first}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            greeting = sock.recv(8)
    except OSError as exc:
        raise StackError(f"cannot reach NATS at {first} ({env_name}): {_describe(exc)}") from exc
    if not greeting.startswith(b"INFO"):
        raise StackError(f"{first} ({env_name}) answered, but it is not a NATS server")


def check_postgres(url: str, env_name: str = "CAIRN_DATABASE_URL", timeout: float = 3.0) -> None:
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise StackError(f"cannot reach PostgreSQL ({env_name}): {_describe(exc)}") from exc


def check_redis(url: str, env_name: str = "CAIRN_REDIS_URL", timeout: float = 3.0) -> None:
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, ValueError) as exc:
        raise StackError(f"cannot reach Redis at {url} ({env_name}): {_describe(exc)}") from exc
