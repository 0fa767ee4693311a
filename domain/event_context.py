"""Who and what caused the events of one save: tenant, actor, device and the ids that tie them
to a request and a command. Pure stdlib.

The command layer builds one per command and hands it to the save explicitly::

    app.save(aggregate, context=EventContext(tenant="acme", actor="user-1", command_id="c-42"))

The library passes the keyword on to the recorder, and the event store writes the tenant into
the subject, the rest into headers of every event; ``command_id`` makes the append idempotent.
A save without a context is recorded as the system's (``SYSTEM_CONTEXT``).
"""

from __future__ import annotations

from dataclasses import dataclass

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


SYSTEM_CONTEXT = EventContext()
