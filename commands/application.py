"""The eventsourcing application every Cairn service saves its aggregates through."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from domain.event_context import EventContext


class CairnApplication(Application[UUID]):
    def save_atomically(self, *aggregates: Aggregate, context: EventContext) -> int | None:
        """Save in one append (one atomic batch) under the given event context; return the
        position of the last event, which a command answers with for read-your-writes (None
        if nothing was new)."""
        recordings = self.save(*aggregates, context=context)
        return max((r.notification.id for r in recordings), default=None)
