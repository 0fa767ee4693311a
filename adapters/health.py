"""Readiness probes for the servers Cairn needs: each answers within a bounded time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import nats
import psycopg
import redis.asyncio as aioredis

from commands.ports.health import ProbeResult, ReadinessCheck

Probe = Callable[[], Awaitable[None]]


def nats_probe(url: str, timeout: float = 2.0) -> Probe:
    async def probe() -> None:
        nc = await nats.connect(
            url, connect_timeout=timeout, allow_reconnect=False, max_reconnect_attempts=0
        )
        try:
            # JetStream must answer too: a NATS without it cannot hold Cairn's events.
            await nc.jetstream(timeout=timeout).account_info()
        finally:
            await nc.close()

    return probe


def postgres_probe(url: str, timeout: float = 2.0) -> Probe:
    async def probe() -> None:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=max(1, int(timeout)))
        try:
            await conn.execute("SELECT 1")
        finally:
            await conn.close()

    return probe


def redis_probe(url: str, timeout: float = 2.0) -> Probe:
    async def probe() -> None:
        client = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            await client.ping()
        finally:
            await client.aclose()

    return probe


async def run_probe(name: str, probe: Probe, within: float = 3.0) -> ProbeResult:
    loop = asyncio.get_running_loop()
    started = loop.time()
    # Any failure means "not ready"; it is reported by name, never raised.
    try:
        await asyncio.wait_for(probe(), within)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ProbeResult(name, ok=False, error=message)
    return ProbeResult(name, ok=True, latency_ms=round((loop.time() - started) * 1000, 1))


async def run_probes(probes: dict[str, Probe], within: float = 3.0) -> list[ProbeResult]:
    return list(await asyncio.gather(*(run_probe(name, p, within) for name, p in probes.items())))


def readiness_check(nats_url: str, database_url: str, redis_url: str) -> ReadinessCheck:
    """Probes NATS JetStream, PostgreSQL and Redis at these URLs."""
    probes = {
        "nats": nats_probe(nats_url),
        "postgres": postgres_probe(database_url),
        "redis": redis_probe(redis_url),
    }

    async def check() -> list[ProbeResult]:
        return await run_probes(probes)

    return check
