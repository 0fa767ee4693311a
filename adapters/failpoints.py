"""Failpoints: kill this process at a named point, for crash tests of real processes.

`CAIRN_FAILPOINTS="before-ack:PlanProposed=3,before-provider-call=1"` makes the process
SIGKILL itself the 3rd time it reaches `before-ack:PlanProposed` and the 1st time it reaches
`before-provider-call`. Unset (always, in production) a failpoint costs one dict lookup. A kill
is announced on stderr first, so a test can tell which point a process died at.

Points: `before-ack:<Event>` (commands/worker_service.py), `before-provider-call` and
`after-provider-call` (below), `before-outbox-receipt` (the provider adapters' outbox,
adapters/integrations/providers/outbox.py).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from commands.ports.integrations import Integrations

ENV = "CAIRN_FAILPOINTS"  # read by the one settings object (commands/settings.py)


class Failpoints:
    def __init__(self, spec: str = "") -> None:
        self._at: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, nth = item.partition("=")
            self._at[name.strip()] = int(nth or "1")
        self._reached: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reach(self, name: str) -> None:
        if name not in self._at:
            return
        with self._lock:
            self._reached[name] += 1
            if self._reached[name] != self._at[name]:
                return
        print(f"failpoint {name}: killing process {os.getpid()}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


class FailpointIntegrations:
    """Integrations that reach `before-provider-call` before each call: a kill there falls
    after the step's `StepStarted` is stored and before the provider heard of it; and
    `after-provider-call` once the provider answered: the action happened, its `StepSucceeded`
    is not stored."""

    def __init__(self, inner: Integrations, failpoints: Failpoints) -> None:
        self.inner = inner
        self.failpoints = failpoints

    def supports(self, provider: str, action: str) -> bool:
        return self.inner.supports(provider, action)

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
        self.failpoints.reach("before-provider-call")
        result = self.inner.perform(
            tenant, provider, action, parameters, idempotency_key, timeout=timeout, person=person
        )
        self.failpoints.reach("after-provider-call")
        return result
