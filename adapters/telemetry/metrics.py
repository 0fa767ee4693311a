"""Cairn's gauges, fed by whoever knows the value: a process registers a reading (a function
asked at each metric collection) and the gauge reports every registered reading.

Readings can be registered before or without a meter provider: they cost nothing until a
provider collects them (``install``, called by ``setup.configure``). The audit checkpointer
feeds ``UNWITNESSED_EVENTS`` the same way (``watch(UNWITNESSED_EVENTS, ...)``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

logger = logging.getLogger("cairn.telemetry")

# A reading: (value, attributes) pairs, e.g. one per projector. None or nothing: no value now.
Reading = Callable[[], Iterable[tuple[float, Mapping[str, str]]] | float | None]


@dataclass(frozen=True)
class Gauge:
    name: str
    unit: str
    description: str


COMMAND_DURATION: Final = "cairn.command.duration"  # a histogram: commands/dispatch.py
PROJECTION_LAG: Final = Gauge(
    "cairn.projection.lag", "{position}", "Positions stored and not yet applied, per projector"
)
PROJECTION_LAG_TIME: Final = Gauge(
    "cairn.projection.lag.time",
    "s",
    "Age of the oldest stored event a projector has not applied yet (0 when caught up)",
)
WORKER_QUEUE_DEPTH: Final = Gauge(
    "cairn.worker.queue_depth",
    "{message}",
    "Run events waiting for a worker or being worked on (the durable consumer's pending + "
    "unacknowledged messages)",
)
PUSH_SUBSCRIBERS: Final = Gauge(
    "cairn.push.subscribers", "{subscriber}", "SSE and WebSocket subscribers of this process"
)
UNWITNESSED_EVENTS: Final = Gauge(
    "cairn.audit.unwitnessed_events",
    "{event}",
    "Events stored after the last checkpoint a witness cosigned",
)
GAUGES: Final = (
    PROJECTION_LAG,
    PROJECTION_LAG_TIME,
    WORKER_QUEUE_DEPTH,
    PUSH_SUBSCRIBERS,
    UNWITNESSED_EVENTS,
)

_lock = threading.Lock()
_readings: dict[str, list[Reading]] = {gauge.name: [] for gauge in GAUGES}


class Watch:
    """A registered reading; ``close()`` stops reporting it."""

    def __init__(self, gauge: Gauge, reading: Reading) -> None:
        self.gauge = gauge
        self.reading = reading

    def close(self) -> None:
        with _lock:
            readings = _readings[self.gauge.name]
            if self.reading in readings:
                readings.remove(self.reading)


def watch(gauge: Gauge, reading: Reading) -> Watch:
    """Report ``reading()`` as ``gauge`` at each collection (in the metric reader's thread)."""
    with _lock:
        _readings[gauge.name].append(reading)
    return Watch(gauge, reading)


def _observe(gauge: Gauge) -> Callable[[CallbackOptions], Iterator[Observation]]:
    def observe(_options: CallbackOptions) -> Iterator[Observation]:
        with _lock:
            readings = list(_readings[gauge.name])
        for reading in readings:
            try:
                value = reading()
            except Exception as exc:  # a reading that fails is skipped, not the collection
                logger.debug("gauge %s: a reading failed (%r)", gauge.name, exc)
                continue
            if value is None:
                continue
            if isinstance(value, int | float):
                yield Observation(value)
                continue
            for number, attributes in value:
                yield Observation(number, dict(attributes))

    return observe


def install(provider: MeterProvider) -> None:
    """Create Cairn's gauges on ``provider``: it asks the readings at each collection."""
    meter = provider.get_meter("cairn")
    for gauge in GAUGES:
        meter.create_observable_gauge(
            gauge.name, [_observe(gauge)], unit=gauge.unit, description=gauge.description
        )
