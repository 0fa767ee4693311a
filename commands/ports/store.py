"""The event store as command handlers see it: the library's persistence errors, plus one
outcome the library has no name for.

A lost optimistic-concurrency race is the library's `IntegrityError`; an event store that
cannot be used now is its `OperationalError` (or `InterfaceError`). A write that was sent but
never confirmed is neither: it may be stored. Event stores raise `WriteOutcomeUnknown` (beside
their own unavailable error) for that, so the dispatch can tell the caller to retry with the
same Idempotency-Key instead of calling the command failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable
from uuid import UUID


class WriteOutcomeUnknown(Exception):
    """The write was sent but its outcome was not confirmed: it may have been stored. A retry
    with the same command id is never appended twice."""


@runtime_checkable
class FindsAbsent(Protocol):
    """A recorder that can tell, in one request, which of several aggregates have no events
    (e.g. a person's own policies, which most people never write): each of them is then not
    loaded one by one."""

    def without_events(self, originator_ids: Sequence[UUID]) -> set[UUID]: ...
