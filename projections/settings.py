"""How projectors run: where the views and the events are, batch size, stop-or-skip."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from domain.errors import InvalidInput
from projections.engine.projector_base import OnError, Projector

_PREFIX, _SUFFIX = "CAIRN_PROJECTOR_", "_ON_ERROR"


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

    @classmethod
    def from_env(
        cls, database_url: str, event_store_env: Mapping[str, str], env: Mapping[str, str]
    ) -> ProjectionSettings:
        """`CAIRN_PROJECTOR_BATCH`, `CAIRN_PROJECTOR_PROCESSES`, `CAIRN_PROJECTOR_CATCH_UP_AFTER`
        and `CAIRN_PROJECTOR_<NAME>_ON_ERROR=stop|skip`."""
        on_error: dict[str, OnError] = {}
        for key, value in env.items():
            if key.startswith(_PREFIX) and key.endswith(_SUFFIX):
                name = key[len(_PREFIX) : -len(_SUFFIX)].lower()
                if value not in ("stop", "skip"):
                    raise InvalidInput(f"{key} must be 'stop' or 'skip', not {value!r}")
                on_error[name] = cast(OnError, value)
        batch = _number(env, "CAIRN_PROJECTOR_BATCH", 1000, 1, 10_000)
        processes = _number(env, "CAIRN_PROJECTOR_PROCESSES", default_processes(), 0, 32)
        after = _number(env, "CAIRN_PROJECTOR_CATCH_UP_AFTER", 50_000, 1, 10**12)
        return cls(database_url, dict(event_store_env), batch, on_error, processes, after)

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


def _number(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = env.get(key) or ""
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        raise InvalidInput(f"{key} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{key} must be between {low} and {high}, not {value}")
    return value
