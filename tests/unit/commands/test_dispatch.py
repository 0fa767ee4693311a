"""The one dispatch: every command has its handler, and the store's outcomes become domain
errors the API maps to 409 and 503."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any, get_type_hints

import pytest

import commands
from adapters.jetstream.errors import EventStoreOutcomeUnknown, EventStoreUnavailable
from commands.base import Command, Issued
from commands.dispatch import OutcomeUnknown, Ports, StoreUnavailable
from commands.identity.models import BeginAcceptInvitation, BeginSignUp
from commands.runs.intents import SubmitIntent
from commands.table import HANDLERS
from domain.errors import Unavailable
from tests.unit.commands.scenario import Scenario

pytestmark = pytest.mark.unit

# Models of ceremony starts: they record nothing, so they are not dispatched.
CEREMONY_STARTS = {BeginSignUp, BeginAcceptInvitation}


def _command_models() -> set[type[Command]]:
    for module in pkgutil.walk_packages(commands.__path__, "commands."):
        importlib.import_module(module.name)
    found: set[type[Command]] = set()
    pending = [Command]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("commands."):
                found.add(sub)
    return found


def test_every_command_model_has_exactly_its_own_handler() -> None:
    assert _command_models() - CEREMONY_STARTS == set(HANDLERS)
    for command_type, handler in HANDLERS.items():
        first = next(iter(inspect.signature(handler).parameters))
        # Handlers name `Ports` for type checkers only (the dispatch imports them).
        hints = get_type_hints(handler, localns={"Ports": Ports})
        assert hints[first] is command_type, handler.__qualname__


def test_a_command_without_a_handler_is_a_programming_error() -> None:
    scenario = Scenario()
    with pytest.raises(TypeError, match="BeginSignUp"):
        scenario.dispatch(
            BeginSignUp(tenant_slug="acme", tenant_name="A", display_name="A", email="a@x.io"),
            Issued(),
        )


@pytest.mark.parametrize(
    ("failure", "mapped", "outcome"),
    [
        (EventStoreUnavailable("NATS is unreachable"), StoreUnavailable, None),
        (EventStoreOutcomeUnknown("no answer within 5 s"), OutcomeUnknown, "unknown"),
    ],
)
def test_an_event_store_that_is_down_is_unavailable_with_retry_after(
    monkeypatch: pytest.MonkeyPatch, failure: Exception, mapped: type[Unavailable], outcome: Any
) -> None:
    scenario = Scenario()
    ada = scenario.signed_up()

    def down(*args: Any, **kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(scenario.ports.runs.recorder, "insert_events", down)
    then = scenario.when(SubmitIntent(text="Pay Bob"), scenario.issued(ada, "k1"))
    error = then.refused("unavailable")
    assert type(error) is mapped
    assert error.details["retry_after"] > 0
    assert error.details.get("outcome") == outcome
    assert error.__cause__ is failure


def test_a_lost_race_with_itself_is_a_conflict_not_a_crash() -> None:
    # The in-memory store has no command-id record: the same command twice races for the same
    # new run, and the second loses at the store.
    scenario = Scenario()
    ada = scenario.signed_up()
    scenario.dispatch(SubmitIntent(text="Pay Bob"), scenario.issued(ada, "k1"))
    then = scenario.when(SubmitIntent(text="Pay Bob"), scenario.issued(ada, "k1"))
    assert then.refused("conflict").details == {"command": "SubmitIntent"}
    then.nothing_recorded()
