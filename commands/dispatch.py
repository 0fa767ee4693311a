"""One dispatch for every command: a table from command type to handler, and the store's
outcomes mapped to domain errors in one place.

A handler is `handler(command, issued, ports) -> CommandResult`: it loads, decides and saves
through the ports it is given (built once, in commands/bootstrap.py) and returns ids and a
position, never live objects. The event context travels with `issued` into the save; nothing
ambient decides whose events they are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from opentelemetry import metrics, trace

from commands.base import Command, CommandResult, Issued
from commands.context.application import ContextPorts
from commands.identity.context import IdentityPorts
from commands.integrations.ports import ConnectionsPorts
from commands.ports.policy import PolicyEngine
from commands.ports.store import WriteOutcomeUnknown
from commands.runs.policies import RunsApplication
from domain.errors import Conflict, DomainError, Unavailable

logger = logging.getLogger("cairn.commands")
_tracer = trace.get_tracer("cairn.commands")
# A no-op until a meter provider is installed (adapters/telemetry/setup.py).
_duration = metrics.get_meter("cairn.commands").create_histogram(
    "cairn.command.duration", unit="s", description="Time to decide and store one command"
)

# Seconds a client should wait before retrying a command the event store could not take: the
# NATS client reconnects within about a second, a cluster elects a new leader within a few.
RETRY_AFTER_S = 2


@dataclass(frozen=True)
class Ports:
    """Everything a command handler may act through."""

    identity: IdentityPorts
    runs: RunsApplication
    policy: PolicyEngine
    connections: ConnectionsPorts | None = None
    context: ContextPorts | None = None


Handler = Callable[[Any, Issued, Ports], CommandResult]


class StoreConflict(Conflict):
    """Another command changed the same aggregate first (the store's expected-sequence check):
    nothing of this one was recorded. Reload and decide again, or retry."""


class StoreUnavailable(Unavailable):
    """The event store cannot take the command now: nothing was recorded. Retry later."""


class OutcomeUnknown(Unavailable):
    """The command was sent to the event store but not confirmed: it may have been recorded.
    Retrying with the same Idempotency-Key records it at most once."""


class Dispatcher:
    def __init__(self, ports: Ports, handlers: Mapping[type[Command], Handler]) -> None:
        self.ports = ports
        self._handlers = dict(handlers)

    def handles(self, command_type: type[Command]) -> bool:
        return command_type in self._handlers

    def dispatch(self, command: Command, issued: Issued) -> CommandResult:
        """Run the command's handler; a lost race becomes `StoreConflict` (409), an event store
        that is down `StoreUnavailable` or `OutcomeUnknown` (503 with Retry-After)."""
        handler = self._handlers.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        name = type(command).__name__
        started = time.perf_counter()
        outcome = "error"
        try:
            # A child of the request's span; no span of its own outside a trace.
            if trace.get_current_span().is_recording():
                with _tracer.start_as_current_span(
                    f"command {name}",
                    attributes={"cairn.command": name, "cairn.command_id": issued.command_id or ""},
                ):
                    result = self._run(handler, command, issued)
            else:
                result = self._run(handler, command, issued)
            outcome = "ok"
            return result
        except DomainError as exc:
            outcome = exc.code
            raise
        finally:
            elapsed = time.perf_counter() - started
            _duration.record(elapsed, {"cairn.command": name, "cairn.outcome": outcome})

    def _run(self, handler: Handler, command: Command, issued: Issued) -> CommandResult:
        try:
            return handler(command, issued, self.ports)
        except IntegrityError as exc:
            raise StoreConflict(
                "the state changed at the same time as this command; reload and retry",
                {"command": type(command).__name__},
            ) from exc
        except WriteOutcomeUnknown as exc:
            logger.warning("%s: outcome unknown: %s", type(command).__name__, exc)
            raise OutcomeUnknown(
                "the event store did not confirm the command; it may have been recorded: "
                "retry with the same Idempotency-Key, it will not be applied twice",
                {"retry_after": RETRY_AFTER_S, "outcome": "unknown"},
            ) from exc
        except (OperationalError, InterfaceError) as exc:
            logger.warning("%s: event store unavailable: %s", type(command).__name__, exc)
            raise StoreUnavailable(
                "the event store is unavailable; nothing was recorded, retry shortly",
                {"retry_after": RETRY_AFTER_S},
            ) from exc
