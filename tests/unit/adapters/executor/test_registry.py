"""The registry of typed handlers: only catalogue actions, validated before anything is called."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.executor import ActionRegistry, TypedHandler, default_registry
from adapters.executor.handlers import CREATE_NOTE
from commands.ports.integrations import ErrorKind, IntegrationError, RetryPolicy
from domain.runs.actions import CATALOGUE, CreateNote, InvalidParameters, SendEmail, UnknownAction

pytestmark = pytest.mark.unit

KEY = "k" * 32
EMAIL = {"to": ["sarah@example.com"], "subject": "Hi", "body": "Tuesday 2pm?"}


@dataclass
class RecordingPort:
    answer: dict[str, Any] = field(default_factory=lambda: {"id": "x_1"})
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def supports(self, provider: str, action: str) -> bool:
        return True

    def perform(
        self,
        tenant: str,
        provider: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
        person: str | None = None,
    ) -> dict[str, Any]:
        self.calls.append((tenant, provider, action, dict(parameters), idempotency_key, timeout))
        return self.answer


def test_every_catalogue_action_has_a_handler_with_a_timeout_and_retry_policy() -> None:
    registry = default_registry()
    assert set(registry) == set(CATALOGUE)
    for name in CATALOGUE:
        handler = registry.get(name)
        assert handler.parameters is CATALOGUE[name].parameters
        assert 0 < handler.timeout <= 30
        assert handler.retry.attempts >= 1


def test_an_unknown_action_is_refused_by_name() -> None:
    with pytest.raises(UnknownAction) as refused:
        default_registry().get("shell.run")
    assert refused.value.details["action"] == "shell.run"


def test_invalid_parameters_are_refused_before_the_port_is_called() -> None:
    port = RecordingPort()
    handler = default_registry().get("email.send")
    for bad in ({**EMAIL, "to": []}, {**EMAIL, "bcc": ["x@example.com"]}, {"subject": "no to"}):
        with pytest.raises(InvalidParameters):
            handler.perform(port, "acme", "mail", bad, KEY)
    assert port.calls == []


def test_the_port_gets_validated_json_the_key_and_the_handlers_timeout() -> None:
    port = RecordingPort({"id": "msg_1", "thread": "t9"})
    handler = default_registry().get("email.send")
    result = handler.perform(port, "acme", "mail", EMAIL, KEY)
    assert result == {"id": "msg_1", "thread": "t9"}
    assert port.calls == [("acme", "mail", "email.send", EMAIL, KEY, handler.timeout)]


def test_typed_parameters_are_sent_in_their_json_form() -> None:
    port = RecordingPort()
    handler = default_registry().get("payments.send")
    handler.perform(
        port, "acme", "bank", {"recipient": "r", "amount": 12.5, "currency": "EUR"}, KEY
    )
    sent = port.calls[0][3]
    assert sent == {"recipient": "r", "amount": "12.5", "currency": "EUR", "memo": None}


def test_an_answer_without_a_receipt_id_is_a_bad_response_that_is_not_retried() -> None:
    handler = default_registry().get("notes.create")
    with pytest.raises(IntegrationError) as failed:
        handler.perform(
            RecordingPort({"ok": True}), "acme", "notes", {"title": "t", "body": ""}, KEY
        )
    assert failed.value.kind is ErrorKind.BAD_RESPONSE
    assert not failed.value.retryable
    assert not handler.retry.should_retry(failed.value, 1)


def test_a_handler_must_use_the_catalogues_model() -> None:
    with pytest.raises(ValueError, match="catalogue"):
        TypedHandler(CATALOGUE["notes.create"], SendEmail, timeout=1.0)
    with pytest.raises(ValueError, match="timeout"):
        TypedHandler(CATALOGUE["notes.create"], CreateNote, timeout=0)


def test_a_registry_refuses_two_handlers_for_one_action() -> None:
    with pytest.raises(ValueError, match="two handlers"):
        ActionRegistry([CREATE_NOTE, CREATE_NOTE])


def test_configured_changes_a_copy_and_refuses_unknown_names() -> None:
    registry = default_registry()
    quick = RetryPolicy(attempts=5, initial_backoff=0.0)
    changed = registry.configured("notes.create", timeout=0.5, retry=quick)
    assert changed.get("notes.create").timeout == 0.5
    assert changed.get("notes.create").retry is quick
    assert changed.get("email.send") == registry.get("email.send")
    assert registry.get("notes.create").timeout != 0.5
    assert all(h.timeout == 2.0 for h in map(registry.configured(timeout=2.0).get, registry))
    with pytest.raises(UnknownAction):
        registry.configured("notes.delete", timeout=1.0)


def error(kind: ErrorKind) -> IntegrationError:
    return IntegrationError(kind, "x", provider="p", action="a")


def test_retry_policy_retries_only_retryable_kinds_within_its_attempts() -> None:
    policy = RetryPolicy(attempts=3)
    assert policy.should_retry(error(ErrorKind.TIMEOUT), 1)
    assert policy.should_retry(error(ErrorKind.IN_FLIGHT), 2)
    assert not policy.should_retry(error(ErrorKind.TIMEOUT), 3)
    for kind in (ErrorKind.REJECTED, ErrorKind.UNSUPPORTED, ErrorKind.BAD_RESPONSE):
        assert not policy.should_retry(error(kind), 1)
    narrow = RetryPolicy(attempts=3, retry_on=frozenset({ErrorKind.SERVER_ERROR}))
    assert not narrow.should_retry(error(ErrorKind.TIMEOUT), 1)


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff=0.5, multiplier=2.0, max_backoff=3.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    "settings",
    [
        {"attempts": 0},
        {"max_starts": 0},
        {"multiplier": 0.5},
        {"initial_backoff": -1},
        {"retry_on": frozenset({ErrorKind.REJECTED})},
    ],
)
def test_retry_policy_refuses_nonsense(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**settings)
