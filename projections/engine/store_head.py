"""What a query's `?after=` may name: a position the event store has handed out.

A position beyond the store's last one can never be reached by any view, so waiting for it
(up to `wait_for`'s bound) only delays its refusal. The head is asked of the store only when
a position is beyond everything this process already knows to be stored (the positions its
commands answered with, the events its push feed fanned out, the heads it was told before), so
a client that passes the position its command was answered with, or of an event it was pushed,
costs no round trip.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.engine.errors import PositionBeyondStore

# The store's last position, as its leader has it; None when the store cannot tell now.
LastPosition = Callable[[], int | None]


class StoreHead:
    """The highest position known to be stored, and the check of a query's `after`."""

    def __init__(self, last_position: LastPosition, seen: Callable[[], int] = lambda: 0) -> None:
        self._last_position = last_position
        # The last position this process's push feed fanned out: a client that passes the
        # position of an event it was pushed asks nothing of the store either.
        self._seen = seen
        self._known = 0

    def note(self, position: int | None) -> None:
        """A position the store handed out (a command's answer): it is stored."""
        if position is not None and position > self._known:
            self._known = position  # a lost race between threads only costs one more ask

    def known(self, position: int) -> bool:
        """Whether `position` is known to be stored, without asking the store."""
        return position <= self._known or position <= self._seen()

    def check(self, position: int) -> None:
        """PositionBeyondStore when the store's last position is below `position`. A store
        that cannot tell refuses nothing: the view's wait decides, as it would without it."""
        if self.known(position):
            return
        last = self._last_position()
        if last is None:
            return
        self.note(last)
        if position > last:
            raise PositionBeyondStore(
                f"position {position} is beyond the event store's last position ({last}): pass "
                "a position from a command's answer or a pushed event",
                {"position": position, "last": last},
            )
