"""What every provider adapter is: its actions, keyed by catalogue action, over one client."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adapters.integrations.providers.client import ProviderClient

# (tenant, person, parameters, idempotency key, timeout) -> the provider's result
Action = Callable[[str, str, dict[str, Any], str, float], dict[str, Any]]


class ProviderAdapter:
    def __init__(self, client: ProviderClient, actions: Mapping[str, Action]) -> None:
        self.client = client
        self._actions = dict(actions)

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self._actions)

    def perform(
        self,
        tenant: str,
        person: str,
        action: str,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        *,
        timeout: float,
    ) -> dict[str, Any]:
        return self._actions[action](tenant, person, dict(parameters), idempotency_key, timeout)

    def close(self) -> None:
        self.client.close()
