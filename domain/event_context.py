"""Who and what caused the events being recorded now: a context variable, pure stdlib.

The command layer sets it once per command::

    with event_context(tenant="acme", actor="user-1", command_id="cmd-42"):
        app.save(aggregate)

and the event store reads it when it records events: the tenant goes into the subject, the rest
into headers of every event, and ``command_id`` makes the append idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class EventContext:
    """Metadata recorded with every event of one command."""

    tenant: str = SYSTEM
    actor: str = SYSTEM
    device: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    command_id: str | None = None


_DEFAULT = EventContext()
_current: ContextVar[EventContext] = ContextVar("cairn_event_context", default=_DEFAULT)


def current_event_context() -> EventContext:
    """The context of the running command (the system default outside of any command)."""
    return _current.get()


@contextmanager
def event_context(
    base: EventContext | None = None,
    /,
    *,
    tenant: str | None = None,
    actor: str | None = None,
    device: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    command_id: str | None = None,
) -> Iterator[EventContext]:
    """Set the event context for the enclosed block, then restore the previous one.

    Fields not given are taken from ``base`` (default: the current context), so nested blocks
    refine the outer one.
    """
    context = base if base is not None else _current.get()
    changes = {
        "tenant": tenant,
        "actor": actor,
        "device": device,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "command_id": command_id,
    }
    context = replace(context, **{k: v for k, v in changes.items() if v is not None})
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
