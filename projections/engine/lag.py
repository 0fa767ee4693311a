"""How far each projector of a process is behind the store, for the projection lag gauges
(asked at each metric collection, in the metric reader's thread): in positions, and in
seconds as the age of the oldest stored event a projector has not applied."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from adapters.telemetry import metrics as gauges
from projections.engine.event_source import EventSource

Positions = Callable[[], Mapping[str, int]]  # projector name -> position it reached
Sample = list[tuple[float, dict[str, str]]]


class Lag:
    def __init__(
        self,
        source: EventSource,
        positions: Positions,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.positions = positions
        self.now = now

    def in_positions(self) -> Sample:
        end = self.source.max_position()
        return [
            (float(max(end - reached, 0)), {"cairn.projector": name})
            for name, reached in self.positions().items()
        ]

    def in_seconds(self) -> Sample:
        end = self.source.max_position()
        sample: Sample = []
        for name, reached in self.positions().items():
            age = 0.0
            if reached < end:
                oldest = self.source.next_after(reached)
                stored = self.source.time_of(oldest) if oldest is not None else None
                if stored is not None:
                    age = max((self.now() - stored).total_seconds(), 0.0)
            sample.append((age, {"cairn.projector": name}))
        return sample

    def watch(self) -> list[gauges.Watch]:
        """Report both gauges until the watches are closed."""
        return [
            gauges.watch(gauges.PROJECTION_LAG, self.in_positions),
            gauges.watch(gauges.PROJECTION_LAG_TIME, self.in_seconds),
        ]
