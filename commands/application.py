"""The eventsourcing application every Cairn service saves its aggregates through."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate


class CairnApplication(Application[UUID]):
    def save_atomically(self, *aggregates: Aggregate) -> int | None:
        """Save in one append (one atomic batch); return the position of the last event,
        which a command answers with for read-your-writes (None if nothing was new)."""
        recordings = self.save(*aggregates)
        return max((r.notification.id for r in recordings), default=None)
