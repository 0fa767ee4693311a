"""The event catalogue (docs/events.md), written from the aggregates themselves: every event
each aggregate records, with its fields, their types and the topic it is stored under.

`make events` writes the file (`python -m domain.catalogue > docs/events.md`); a unit test
fails while the committed file differs from what the code gives.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

import domain

# Every event of every aggregate has these (the library's); a creation event also has
# `originator_topic`, the aggregate's own topic.
_COMMON = ("originator_id", "originator_version", "timestamp", "originator_topic")

HEADER = """\
# Event catalogue

Generated from the code by `make events` (`python -m domain.catalogue > docs/events.md`); a
unit test (tests/unit/domain/test_catalogue.py) fails while this file is stale. Do not edit it
by hand.

Every event is stored in the events stream under the subject
`<prefix>.<tenant>.<Aggregate>.<aggregate id>` with the topic below (`module:Aggregate.Event`,
how the library finds its class again). Besides the fields listed, every event has
`originator_id` (the aggregate's id), `originator_version` and `timestamp`; the event that
creates an aggregate also has `originator_topic`. The context of each event (tenant, actor,
device, correlation and causation ids) travels in the message's headers
(docs/event-store.md).
"""


def aggregates() -> list[type[Aggregate]]:
    """Every aggregate class defined in the domain package, in module then source order."""
    found: list[type[Aggregate]] = []
    for module_info in pkgutil.walk_packages(domain.__path__, "domain."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Aggregate)
                and cls is not Aggregate
                and cls.__module__ == module.__name__
            ):
                found.append(cls)
    return sorted(found, key=lambda c: (c.__module__, inspect.getsourcelines(c)[1]))


def events(aggregate: type[Aggregate]) -> Iterator[type[CanMutateAggregate[Any]]]:
    """The events the aggregate records (its `@event` methods), in source order."""
    for name, value in vars(aggregate).items():
        if (
            isinstance(value, type)
            and issubclass(value, CanMutateAggregate)
            and name not in ("Event", "Created")
        ):
            yield value


def _fields(event: type[CanMutateAggregate[Any]]) -> list[tuple[str, str]]:
    return [
        (f.name, str(f.type).replace("|", "\\|"))
        for f in dataclasses.fields(event)  # type: ignore[arg-type]
        if f.name not in _COMMON
    ]


def catalogue() -> str:
    lines = [HEADER]
    for aggregate in aggregates():
        source = aggregate.__module__.replace(".", "/") + ".py"
        lines.append(f"## {aggregate.__name__}\n")
        lines.append(f"`{source}`; subjects `<prefix>.<tenant>.{aggregate.__name__}.<id>`.\n")
        lines.append("| event | fields | topic |")
        lines.append("|---|---|---|")
        for event in events(aggregate):
            created = issubclass(event, Aggregate.Created)
            name = f"`{event.__name__}`" + (" (creates it)" if created else "")
            fields = "<br>".join(f"`{n}`: `{t}`" for n, t in _fields(event)) or "—"
            lines.append(f"| {name} | {fields} | `{get_topic(event)}` |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(catalogue(), end="")
