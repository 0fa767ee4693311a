"""The HTTP integration client against the local fake provider: real sockets, real faults."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.executor import HttpIntegrations
from commands.ports.integrations import ErrorKind, IntegrationError
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.integration

PARAMETERS: dict[str, dict[str, Any]] = {
    "calendar.create_event": {
        "title": "Meeting with Sarah",
        "start": "2026-12-01T14:00:00+01:00",
        "end": "2026-12-01T15:00:00+01:00",
        "attendees": ["sarah@example.com"],
        "location": None,
    },
    "email.send": {"to": ["sarah@example.com"], "subject": "Tuesday", "body": "2pm?"},
    "reminders.create": {"text": "Call mum", "due": "2026-12-01T18:00:00Z"},
    "notes.create": {"title": "Groceries", "body": "milk"},
    "payments.send": {"recipient": "ACME", "amount": "12.50", "currency": "EUR", "memo": None},
}


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as running:
        yield running


@pytest.fixture
def integrations(provider: FakeProvider) -> Iterator[HttpIntegrations]:
    with HttpIntegrations({"fake": provider.base_url}) as client:
        yield client


def perform(client: HttpIntegrations, action: str, key: str, timeout: float = 2.0) -> Any:
    return client.perform("acme", "fake", action, PARAMETERS[action], key, timeout=timeout)


def test_each_action_is_performed_once_per_key(
    provider: FakeProvider, integrations: HttpIntegrations
) -> None:
    for n, action in enumerate(PARAMETERS):
        first = perform(integrations, action, f"key-{n}")
        again = perform(integrations, action, f"key-{n}")
        assert again == first
        assert first["action"] == action
        assert provider.performed(action) == 1
    assert provider.received() == 2 * len(PARAMETERS)
    assert {p.tenant for p in provider.performances} == {"acme"}
    assert provider.performances[3].parameters == PARAMETERS["notes.create"]


def test_the_same_key_with_other_parameters_is_rejected(
    provider: FakeProvider, integrations: HttpIntegrations
) -> None:
    perform(integrations, "notes.create", "k1")
    with pytest.raises(IntegrationError) as failed:
        integrations.perform(
            "acme", "fake", "notes.create", {"title": "Other", "body": ""}, "k1", timeout=2.0
        )
    assert failed.value.kind is ErrorKind.REJECTED
    assert failed.value.status == 422
    assert provider.performed() == 1


def test_injected_server_errors_are_retryable_and_perform_nothing(
    provider: FakeProvider, integrations: HttpIntegrations
) -> None:
    provider.fail_next(1, status=503)
    with pytest.raises(IntegrationError) as failed:
        perform(integrations, "notes.create", "k1")
    assert (failed.value.kind, failed.value.retryable) == (ErrorKind.SERVER_ERROR, True)
    assert provider.performed() == 0
    assert perform(integrations, "notes.create", "k1")["id"] == "note_1"


def test_a_hang_is_a_timeout_and_a_crash_after_acting_is_a_connection_error(
    provider: FakeProvider, integrations: HttpIntegrations
) -> None:
    provider.hang_next(1, seconds=5.0)
    with pytest.raises(IntegrationError) as failed:
        perform(integrations, "notes.create", "k1", timeout=0.2)
    assert failed.value.kind is ErrorKind.TIMEOUT
    provider.release()
    provider.crash_next(1, after_perform=True)
    with pytest.raises(IntegrationError) as failed:
        perform(integrations, "notes.create", "k2")
    assert failed.value.kind is ErrorKind.CONNECTION
    assert provider.performed() == 1  # the crash happened after acting...
    assert perform(integrations, "notes.create", "k2")["id"] == "note_1"  # ...the retry replays
    assert provider.performed() == 1


def test_the_same_key_while_the_first_request_is_in_flight_is_409(
    provider: FakeProvider, integrations: HttpIntegrations
) -> None:
    provider.hang_next(1, seconds=5.0, perform=True)
    first = threading.Thread(target=perform, args=(integrations, "notes.create", "k1", 10.0))
    first.start()
    provider.wait_until(lambda: provider.received() == 1)
    with pytest.raises(IntegrationError) as failed:
        perform(integrations, "notes.create", "k1")
    assert (failed.value.kind, failed.value.status, failed.value.retryable) == (
        ErrorKind.IN_FLIGHT,
        409,
        True,
    )
    provider.release()
    first.join(10)
    assert perform(integrations, "notes.create", "k1")["id"] == "note_1"
    assert provider.performed() == 1


def test_a_provider_that_is_down_is_a_retryable_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens once it is closed
    client = HttpIntegrations({"fake": f"http://127.0.0.1:{port}"})
    with client, pytest.raises(IntegrationError) as failed:
        perform(client, "notes.create", "k1")
    assert (failed.value.kind, failed.value.retryable) == (ErrorKind.CONNECTION, True)
