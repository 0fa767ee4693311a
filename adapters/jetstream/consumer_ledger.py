"""The bookkeeping of a pull consumer that follows a stream: the push feed's (decision 0052,
adapters/push/feed.py) and the projectors' live consumer's (decision 0058, ``live``).

Such a consumer delivers as consumer sequence 1, 2, 3, ... A delivery that is not the next
one, a heartbeat naming a later consumer sequence than the last delivered, or nothing heard
for three heartbeat intervals means something was lost on the way: the consumer is then
replaced by one that starts after the last stream sequence handed on (``position``), so no
event is missed and none is handed on twice.

Credits work as in the official clients' "consume": ``batch`` messages are asked for; when
no more than half are still owed (delivered, or released by a pull request's end), more are
asked for, so the server always has a request to deliver into and latency stays one hop.

Every event of the stream goes through ``delivered`` and the reads of ``replacing`` and
``wants_more`` around it: those are attributes rather than calls, and a gap (rare) raises
rather than make every delivery return a second answer.
"""

from __future__ import annotations

import time

# The clock. A module's global is the cheapest call to make on every delivery (a slot's
# callable is looked up as a method); a test may replace it.
_now = time.monotonic


class ConsumerGap(Exception):
    """A delivery that is not its consumer's next one: one before it was lost."""


class ConsumerLedger:
    """What one following consumer has delivered and still owes, and whether it must be
    replaced. ``restart`` when a replacement is being made; ``position`` carries over."""

    __slots__ = (
        "_low",
        "batch",
        "expected",
        "heard",
        "idle_heartbeat",
        "owed",
        "position",
        "replacing",
        "wants_more",
    )

    def __init__(self, batch: int, idle_heartbeat: float, position: int = 0) -> None:
        self.batch, self.idle_heartbeat = batch, idle_heartbeat
        self.position = position  # the last stream sequence handed on
        self._low = batch // 2  # no more owed than this: ask for more
        self.heard = _now()  # when the consumer was last heard from (a delivery or status)
        self.expected = 1  # the consumer sequence the next delivery must have
        self.owed = 0  # messages asked for, neither delivered nor released yet
        self.wants_more = True  # whether another pull request must be sent
        self.replacing = False  # whether the consumer is to be replaced: take nothing of it

    def restart(self) -> None:
        """A replacement is being made: nothing is delivered or asked of it yet, and it is
        not to be replaced. (It is heard from, ``hear``, once it exists.)"""
        self.expected, self.owed, self.wants_more, self.replacing = 1, 0, True, False

    def replace(self) -> bool:
        """The consumer is to be replaced (whatever the reason): False if it already was."""
        if self.replacing:
            return False
        self.replacing = True
        return True

    def hear(self) -> None:
        self.heard = _now()

    def delivered(self, seq: int, cseq: int) -> bool:
        """Stream sequence ``seq`` came as consumer sequence ``cseq``: True if it is to be
        handed on (it is after ``position``, which becomes it), False if it was before.
        ConsumerGap, nothing counted, if ``cseq`` is not the next consumer sequence."""
        self.heard = _now()
        if cseq != self.expected:
            raise ConsumerGap(f"consumer sequence {cseq} after {self.expected - 1}")
        self.expected = cseq + 1
        self.owed -= 1
        if self.owed <= self._low:  # (else it was above before too: wants_more is False)
            self.wants_more = True
        if seq > self.position:
            self.position = seq
            return True
        return False

    def asked(self) -> None:
        """A pull request for ``batch`` more messages is sent."""
        self.owed += self.batch
        self.wants_more = self.owed <= self._low

    def released(self, unsent: int) -> None:
        """A pull request ended (expired, interrupted) with ``unsent`` of its messages."""
        self.owed -= unsent
        self.wants_more = self.owed <= self._low

    def heartbeat(self, last_delivered: int) -> str | None:
        """Why the consumer must be replaced, if an idle heartbeat saying it last delivered
        consumer sequence ``last_delivered`` shows deliveries lost; else None."""
        if last_delivered >= self.expected:
            return f"heartbeat says consumer sequence {last_delivered}, have {self.expected - 1}"
        return None

    def silence(self) -> str | None:
        """Why the consumer must be replaced, if nothing was heard for three heartbeat
        intervals; else None."""
        if _now() - self.heard > 3 * self.idle_heartbeat:
            return "no message or heartbeat for three intervals"
        return None
