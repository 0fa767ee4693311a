"""The registry of typed action handlers the executor looks actions up in.

A handler is data plus fixed code: the catalogue entry of its action, the pydantic model of its
parameters, a timeout and a retry policy. The executor never runs anything a model wrote: a
plan names an action (looked up here, unknown names are refused) and gives parameters (validated
by the action's model, extra fields refused) before any provider is called.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from commands.ports.integrations import ErrorKind, IntegrationError, Integrations, RetryPolicy
from domain.runs.actions import (
    CATALOGUE,
    ActionSpec,
    Parameters,
    UnknownAction,
    validate_parameters,
)

P = TypeVar("P", bound=Parameters)
DEFAULT_RETRY = RetryPolicy()


class Receipt(BaseModel):
    """What a provider answers for a performed action: at least the id of what it created.

    Other fields are kept as given (they go into the `StepSucceeded` event)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(min_length=1, max_length=200)


@dataclass(frozen=True, slots=True)
class TypedHandler(Generic[P]):
    """One catalogue action, performed through the integration port."""

    spec: ActionSpec
    parameters: type[P]
    timeout: float  # seconds per provider call (per connect/read/write phase over HTTP)
    retry: RetryPolicy = DEFAULT_RETRY
    # A create's receipt; a read's bounded result (adapters/executor/results.py).
    result: type[BaseModel] = Receipt

    def __post_init__(self) -> None:
        if CATALOGUE.get(self.name) != self.spec or self.spec.parameters is not self.parameters:
            # The policy decided on the catalogue's model: a handler with another one could
            # act on parameters nobody approved.
            raise ValueError(f"{self.spec.name!r}: handler does not match the catalogue entry")
        if not 0 < self.timeout <= 300:
            raise ValueError(f"{self.spec.name!r}: timeout must be in (0, 300] seconds")

    @property
    def name(self) -> str:
        return self.spec.name

    def validate(self, parameters: Mapping[str, Any]) -> P:
        validated = validate_parameters(self.name, dict(parameters))
        assert isinstance(validated, self.parameters)
        return validated

    def perform(
        self,
        integrations: Integrations,
        tenant: str,
        provider: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        person: str | None = None,
    ) -> dict[str, Any]:
        typed = self.validate(parameters)
        answer = integrations.perform(
            tenant,
            provider,
            self.name,
            typed.model_dump(mode="json"),
            idempotency_key,
            timeout=self.timeout,
            person=person,
        )
        try:
            return self.result.model_validate(answer).model_dump(mode="json")
        except ValidationError as exc:
            # The action most likely happened; asking again with the key returns the same
            # answer, so this is not retryable.
            raise IntegrationError(
                ErrorKind.BAD_RESPONSE,
                f"{provider} answered {self.name} without a valid receipt",
                provider=provider,
                action=self.name,
            ) from exc


class ActionRegistry:
    """Handlers by action name; only catalogue actions, each at most once."""

    def __init__(self, handlers: Iterable[TypedHandler[Any]]) -> None:
        self._handlers: dict[str, TypedHandler[Any]] = {}
        for handler in handlers:
            if handler.name in self._handlers:
                raise ValueError(f"two handlers for {handler.name!r}")
            self._handlers[handler.name] = handler

    def get(self, action: str) -> TypedHandler[Any]:
        handler = self._handlers.get(action)
        if handler is None:
            raise UnknownAction(
                f"no handler for action {action!r}", {"action": action, "known": sorted(self)}
            )
        return handler

    def __contains__(self, action: object) -> bool:
        return action in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)

    def __len__(self) -> int:
        return len(self._handlers)

    def configured(
        self,
        action: str | None = None,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> ActionRegistry:
        """A copy with another timeout and/or retry policy for `action` (default: every one),
        for deployment settings and for tests that need short timeouts."""
        if action is not None:
            self.get(action)  # refuse a typo instead of silently configuring nothing
        changed = []
        for name, handler in self._handlers.items():
            if action is None or name == action:
                handler = replace(
                    handler,
                    timeout=handler.timeout if timeout is None else timeout,
                    retry=handler.retry if retry is None else retry,
                )
            changed.append(handler)
        return ActionRegistry(changed)
