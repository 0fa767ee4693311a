"""How projectors run: where the views and the events are, batch size, stop-or-skip (built
from the one settings object by the entry points: entrypoints/projector_cli.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from projections.engine.projector_base import OnError, Projector


def default_processes() -> int:
    """One per core, at most four (the commit in one process bounds what more could add)."""
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class ProjectionSettings:
    database_url: str
    # The eventsourcing library's settings of the event store (PERSISTENCE_MODULE, NATS_...).
    event_store_env: Mapping[str, str]
    # Most events one transaction applies while catching up.
    batch_size: int = 1000
    # Per projector name: "stop" or "skip" at a poison event, over the projector's default.
    on_error: Mapping[str, OnError] = field(default_factory=dict)
    # Worker processes that prepare batches while a projector is far behind (projections.
    # catchup); below 2 everything happens in the projector's own process.
    catch_up_processes: int = field(default_factory=default_processes)
    # How far behind (events) a projector must be for those processes to be started.
    catch_up_after: int = 50_000

    @property
    def source(self) -> str:
        """Which event store (and stream) positions refer to: a view built from one must not
        be continued from another."""
        env = self.event_store_env
        parts = (
            env.get("PERSISTENCE_MODULE", ""),
            env.get("NATS_STREAM", "cairn_events"),
            env.get("NATS_SUBJECT_PREFIX", "cairn"),
        )
        return "/".join(parts)

    def on_error_for(self, projector: type[Projector]) -> OnError:
        return self.on_error.get(projector.name, projector.on_error)
