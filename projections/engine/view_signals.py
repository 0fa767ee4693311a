"""What the projector workers of a process hear from PostgreSQL instead of asking it
(decision 0054): a query waiting for a position, and a generation switched elsewhere.

- `wait_for` (a query's `?after=`) that does not find its position reached asks for it on
  `WAIT_CHANNEL` ("<projector> <position>"). A worker lets a batch that only moves its tracking
  position wait up to `IDLE_LINGER_S` for company while it hears this channel, and commits it at
  once when someone waits for a position it covers: a projector with nothing to write commits
  a few times a minute instead of ten times a second, and a wait for a position of an event it
  does not handle still ends as soon as before.
- `generations.switch` says on `SWITCH_CHANNEL` ("<projector>") that another generation became
  the active one: a worker asks the database whether its generation is still the active one
  when it hears that (or every `CHECK_ANYWAY_S`), not every second.

Notifications are sent when their transaction commits, to every session listening then. What
was said while this process did not listen is lost: each (re)start of the listening counts as
a switch of every projector (each worker asks the database once more), a waiting query asks
again every `ASK_AGAIN_S`, and while nobody listens the workers go back to committing such
batches within 0.1 s and checking their generation every second.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time

import psycopg

logger = logging.getLogger("cairn.projections")

WAIT_CHANNEL = "cairn_projection_wait"
SWITCH_CHANNEL = "cairn_projection_switch"
# How long a batch that only moves the tracking position may wait while a query that waits for
# it would say so; it bounds what a restart reads again (events the projector ignores).
IDLE_LINGER_S = 5.0
ASK_AGAIN_S = 0.5  # a waiting query asks again this often (one notification may be lost)
WANTED_FOR_S = 3.0  # a query's wait is heard as current this long (longer than wait_for's bound)
CHECK_ANYWAY_S = 60.0  # the generation is checked this often even without a switch heard
# The listening thread also looks at `close` this often; `close` wakes it at once through a pipe
# (when it waited for this poll, every projector host's stop took ~0.1-0.6 s, and so did the
# teardown of every test that runs the projectors: decision 0068).
_LISTEN_FOR_S = 5.0


class ViewSignals:
    """One listening connection for the process's workers; `start` it, `close` it."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._wanted: dict[str, tuple[int, float]] = {}  # projector -> (position, heard until)
        self._switches: dict[str, int] = {}  # switches heard, per projector
        self._starts = 0  # listening (re)started: what was said before may be lost
        self.listening = False
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None  # (read, write) ends: `close` writes a byte

    def start(self) -> ViewSignals:
        self._wake = os.pipe()
        self._thread = threading.Thread(target=self._listen, name="cairn-projection-signals")
        self._thread.daemon = True
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        thread, self._thread = self._thread, None
        if thread is None or self._wake is None:
            return
        os.write(self._wake[1], b"!")
        thread.join(timeout=10)
        if not thread.is_alive():  # else it may still look at the pipe: left open
            for end in self._wake:
                os.close(end)
            self._wake = None

    def wanted(self, projector: str) -> int:
        """The highest position a query waits for on `projector` now (0: none)."""
        position, until = self._wanted.get(projector, (0, 0.0))
        return position if time.monotonic() < until else 0

    def switches(self, projector: str) -> int:
        """Moves whenever `projector`'s active generation may have changed unheard or was
        switched: ask the database when it differs from the value seen at the last check."""
        return self._starts + self._switches.get(projector, 0)

    def _listen(self) -> None:
        delay = 0.5
        while not self._closed.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {WAIT_CHANNEL}")
                    conn.execute(f"LISTEN {SWITCH_CHANNEL}")
                    self._starts += 1  # after LISTEN: nothing said from now on is missed
                    self.listening, delay = True, 0.5
                    while not self._closed.is_set():
                        self._hear(conn)
            except psycopg.Error as error:
                logger.warning("projectors: not listening to PostgreSQL (%s)", error)
            finally:
                self.listening = False
            self._closed.wait(delay)
            delay = min(delay * 2, 10.0)

    def _hear(self, conn: psycopg.Connection[object]) -> None:
        """What the connection received, once it or `close` has something to say (or after
        `_LISTEN_FOR_S`)."""
        assert self._wake is not None
        readable, _, _ = select.select([conn.fileno(), self._wake[0]], [], [], _LISTEN_FOR_S)
        if conn.fileno() in readable:
            # Nothing to wait for: the socket has input (or is closed: then this raises).
            for note in conn.notifies(timeout=0):
                self._heard(note.channel, note.payload)

    def _heard(self, channel: str, payload: str) -> None:
        if channel == SWITCH_CHANNEL:
            self._switches[payload] = self._switches.get(payload, 0) + 1
            return
        projector, _, position = payload.partition(" ")
        if not position.isdigit():
            return
        until = time.monotonic() + WANTED_FOR_S
        current, current_until = self._wanted.get(projector, (0, 0.0))
        if current_until > time.monotonic() and current > int(position):
            self._wanted[projector] = (current, until)  # a wait for less is covered by it
        else:
            self._wanted[projector] = (int(position), until)
