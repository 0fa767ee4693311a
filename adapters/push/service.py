"""The push side of one API process: its NATS connection, store reader, hub and feed.

Implements `commands.ports.push.Push`: the API opens subscriptions and reads audit pages
through it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsConnection

from adapters.push.audit import AuditFilter, AuditPage, audit_page
from adapters.push.feed import ConsumerFeed
from adapters.push.hub import Hub
from adapters.push.session import PushSession
from adapters.push.settings import PushSettings
from adapters.push.store import StoreReader
from adapters.push.visibility import Visibility, same_tenant
from commands.ports.push import AuditQuery, Focus, Reauthorize, Viewer
from domain.errors import Unavailable

logger = logging.getLogger("cairn.push")


@dataclass
class PushService:
    nc: NatsConnection
    reader: StoreReader
    hub: Hub
    feed: ConsumerFeed
    settings: PushSettings

    @classmethod
    async def connect(
        cls,
        nats_url: str,
        stream: str,
        prefix: str,
        settings: PushSettings | None = None,
        visibility: Visibility = same_tenant,
    ) -> PushService:
        """Connect, then start the consumer after the stream's current end (history is read
        from the store by each subscriber that asks for it)."""
        settings = settings or PushSettings()
        feed_box: list[ConsumerFeed] = []

        async def reconnected() -> None:
            # Pull requests in flight were lost with the connection: start a fresh consumer.
            for feed in feed_box:
                feed.reset("NATS reconnected")

        nc = await nats.connect(
            servers=[s.strip() for s in nats_url.split(",") if s.strip()],
            name="cairn-push",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            ping_interval=5,
            max_outstanding_pings=2,
            reconnected_cb=reconnected,
        )
        hub = Hub(
            prefix, visibility, capacity=settings.buffer, max_subscribers=settings.max_subscribers
        )
        reader = StoreReader(nc, stream, prefix)
        try:
            await reader.start()
            hub.position = await reader.last_sequence()
            feed = ConsumerFeed(
                nc,
                stream,
                reader.events_filter,
                hub.dispatch,
                batch=settings.feed_batch,
                idle_heartbeat=settings.feed_heartbeat_s,
            )
            feed_box.append(feed)
            await feed.start(after=hub.position)
        except BaseException:
            await nc.close()
            raise
        # Heartbeats are due at most half an interval late (and at most 1 s).
        hub.start_ticker(min(1.0, settings.heartbeat_s / 2))
        logger.info("push: consuming %s from sequence %d", stream, hub.position + 1)
        return cls(nc, reader, hub, feed, settings)

    @property
    def position(self) -> int:
        """The last stream position this process's feed fanned out (0 before any): stored,
        since the feed reads only what the store has stored."""
        return self.hub.position

    async def close(self) -> None:
        self.hub.close_all("this server is shutting down; reconnect with your Last-Event-ID")
        await self.feed.stop()
        await self.reader.close()
        await self.nc.close()

    def subscribe(
        self,
        viewer: Viewer,
        *,
        last_event_id: int | None,
        reauthorize: Reauthorize,
        expires_at: float,
        focus: Focus | None = None,
    ) -> PushSession:
        try:
            return PushSession(
                self.hub,
                self.reader,
                viewer,
                last_event_id=last_event_id,
                heartbeat_s=self.settings.heartbeat_s,
                reauthorize=reauthorize,
                reauth_s=self.settings.reauth_s,
                expires_at=expires_at,
                focus=focus,
            )
        except OverflowError as exc:
            raise Unavailable("this server has no room for another subscriber; retry") from exc

    async def audit_page(
        self,
        tenant: str,
        query: AuditQuery,
        *,
        capabilities: Iterable[str],
        asked_tenant: str | None,
        after: int,
        limit: int,
    ) -> AuditPage:
        return await audit_page(
            self.reader,
            tenant,
            AuditFilter.of(query),
            capabilities=capabilities,
            asked_tenant=asked_tenant,
            after=after,
            limit=limit,
            max_scan=self.settings.audit_max_scan,
        )
