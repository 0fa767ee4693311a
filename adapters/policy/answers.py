"""A bounded, thread-safe cache of Cedar's answers, least recently used evicted first.

The key (built by the engine) holds everything Cedar's answers depend on: the layer, the policy
version and the exact JSON text of the requests and entities (docs/decisions/0046). The answers
are immutable `Verdict`s in tuples, so one cached answer can go into any number of decisions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from domain.policy.combine import StepVerdicts

AnswerKey = tuple[bool, str, tuple[str, ...]]
"""(household layer?, policy version, every string of the requests and entities Cedar is
given: `adapters.policy.cedar.CedarCall.key`)."""


class AnswerCache:
    def __init__(self, max_entries: int) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be zero (no caching) or more")
        self.max_entries = max_entries
        self._entries: OrderedDict[AnswerKey, tuple[StepVerdicts, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: AnswerKey) -> tuple[StepVerdicts, ...] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: AnswerKey, answers: Sequence[StepVerdicts]) -> tuple[StepVerdicts, ...]:
        kept = tuple(answers)
        if self.max_entries == 0:
            return kept
        with self._lock:
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return kept

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
