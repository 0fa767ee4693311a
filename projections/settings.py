"""How projectors run: where the views and the events are, batch size, stop-or-skip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from domain.errors import InvalidInput
from projections.projector import OnError, Projector

_PREFIX, _SUFFIX = "CAIRN_PROJECTOR_", "_ON_ERROR"


@dataclass(frozen=True)
class ProjectionSettings:
    database_url: str
    # The eventsourcing library's settings of the event store (PERSISTENCE_MODULE, NATS_...).
    event_store_env: Mapping[str, str]
    # Most events one transaction applies while catching up.
    batch_size: int = 1000
    # Per projector name: "stop" or "skip" at a poison event, over the projector's default.
    on_error: Mapping[str, OnError] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls, database_url: str, event_store_env: Mapping[str, str], env: Mapping[str, str]
    ) -> ProjectionSettings:
        """`CAIRN_PROJECTOR_BATCH`, and `CAIRN_PROJECTOR_<NAME>_ON_ERROR=stop|skip`."""
        on_error: dict[str, OnError] = {}
        for key, value in env.items():
            if key.startswith(_PREFIX) and key.endswith(_SUFFIX):
                name = key[len(_PREFIX) : -len(_SUFFIX)].lower()
                if value not in ("stop", "skip"):
                    raise InvalidInput(f"{key} must be 'stop' or 'skip', not {value!r}")
                on_error[name] = cast(OnError, value)
        batch = int(env.get("CAIRN_PROJECTOR_BATCH") or 1000)
        if not 1 <= batch <= 10_000:
            raise InvalidInput("CAIRN_PROJECTOR_BATCH must be between 1 and 10000")
        return cls(database_url, dict(event_store_env), batch, on_error)

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
