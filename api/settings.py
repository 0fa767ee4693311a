"""The URLs the API is wired to (its readiness check): those of the one settings object."""

from __future__ import annotations

from dataclasses import dataclass

from commands.settings import CairnSettings


@dataclass(frozen=True)
class ServiceUrls:
    nats_url: str
    database_url: str
    redis_url: str
    nats_monitor_url: str | None = None

    @classmethod
    def of(cls, settings: CairnSettings) -> ServiceUrls:
        return cls(
            settings.nats_url, settings.database_url, settings.redis_url, settings.nats_monitor_url
        )
