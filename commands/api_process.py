"""The composition root of an API process: what runs beside its routes, started together and
stopped in reverse order (api/app.py's lifespan enters it). The routes see the ports only:
`Services`, `commands.ports.push.Push` and `commands.ports.health.ReadinessCheck`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from adapters.audit.reads import StoreAuditLog
from adapters.health import readiness_check
from adapters.push import PushService, Visibility, same_tenant
from adapters.telemetry import metrics as gauges
from commands.bootstrap import Services, bootstrap
from commands.ports.health import ReadinessCheck
from commands.settings import CairnSettings


@dataclass(frozen=True)
class ApiProcess:
    services: Services
    push: PushService  # this process's one JetStream consumer, fanned out to its subscribers
    audit_log: StoreAuditLog  # checkpoints and proofs (commands.ports.audit_log.AuditLogReads)


def readiness(nats_url: str, database_url: str, redis_url: str) -> ReadinessCheck:
    """Asks NATS JetStream, PostgreSQL and Redis at these URLs whether they answer."""
    return readiness_check(nats_url, database_url, redis_url)


@asynccontextmanager
async def api_process(
    settings: CairnSettings, visibility: Visibility = same_tenant
) -> AsyncIterator[ApiProcess]:
    """Services, then push (it reads the stream the services made sure of); the reverse on
    the way out. `visibility` decides which of its tenant's events a subscriber receives."""
    services = await anyio.to_thread.run_sync(bootstrap, settings)
    try:
        push = await PushService.connect(
            settings.nats_url,
            settings.stream,
            settings.subject_prefix,
            settings.push,
            visibility,
        )
    except BaseException:
        await anyio.to_thread.run_sync(services.close)
        raise
    # Other processes' changes to users and sessions reach this one's auth cache through the
    # push feed, which sees every event (decision 0010).
    push.hub.watchers.append(services.principals.forget_event)
    subscribers = gauges.watch(gauges.PUSH_SUBSCRIBERS, lambda: push.hub.subscribers)
    try:
        yield ApiProcess(services, push, StoreAuditLog(push.reader))
    finally:
        subscribers.close()
        # Every subscription ends (clients see `closed`, then resume elsewhere), then the rest.
        await push.close()
        await anyio.to_thread.run_sync(services.close)
