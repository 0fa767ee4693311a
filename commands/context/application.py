"""The context application (memories and entities in the event store) and the ports its
command handlers act through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from commands.application import CairnApplication
from commands.ports.context import (
    ContextDirectory,
    ContextSearch,
    EmbedderChoice,
    Extractor,
    PayloadStore,
)
from commands.ports.vault import Vault
from domain.errors import NotFound, Unavailable


class ContextApplication(CairnApplication):
    """Memories and entities, stored in the event store."""


@dataclass(frozen=True)
class ContextPorts:
    app: ContextApplication
    vault: Vault
    payloads: PayloadStore
    embedders: EmbedderChoice
    directory: ContextDirectory
    search: ContextSearch
    extractor: Extractor | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def required(ports: ContextPorts | None) -> ContextPorts:
    if ports is None:
        raise Unavailable("the context graph is not configured in this process", {})
    return ports


def load_own(app: ContextApplication, aggregate_id: UUID, tenant_id: UUID, user_id: str) -> Any:
    """The caller's own memory or entity; another person's is as unknown as a missing one."""
    try:
        found: Any = app.repository.get(aggregate_id)
    except AggregateNotFoundError:
        found = None
    if found is None or found.tenant_id != tenant_id or found.user_id != user_id:
        raise NotFound("no such memory or entity", {"id": str(aggregate_id)})
    return found


def find(app: ContextApplication, aggregate_id: UUID) -> Any:
    try:
        return app.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None
