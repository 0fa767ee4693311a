"""The one rule both fuzz tests apply to a 503 (decision 0039): a dependency that an overloaded
machine timed out answers 503 with `Retry-After`, which the brief allows; a 503 that the
input causes comes back every time the same request is sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

RESENDS = 3


def settled(send: Callable[[], Any]) -> Any:
    """The answer to `send()`, sent again (up to three times, a second apart) while it is a
    503 with `Retry-After`; any other answer, or the last one, is returned as it is."""
    answer = send()
    for _ in range(RESENDS):
        if answer.status_code != 503 or "Retry-After" not in answer.headers:
            break
        time.sleep(1)
        answer = send()
    return answer
