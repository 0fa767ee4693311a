"""The event stream's last position as its leader has it: what a query's `?after=` is checked
against (projections/engine/store_head.py)."""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.persistence import ApplicationRecorder, OperationalError

from adapters.jetstream.errors import JetStreamApiError
from adapters.jetstream.recorders import JetStreamApplicationRecorder
from adapters.jetstream.stream import ERR_STREAM_NOT_FOUND

# How long a query waits for the stream's head before the view's own wait decides. A leader
# answers STREAM.INFO in about a millisecond; one that accepts the request and does not answer
# (a hung server) would otherwise hold the query for the whole request timeout (5 s) first.
HEAD_WAIT_S = 0.5


def last_position_of(
    recorder: ApplicationRecorder, within: float = HEAD_WAIT_S
) -> Callable[[], int | None]:
    """The stream's last sequence (events and markers), None when the store cannot answer now
    (within ``within`` seconds). Asked with STREAM.INFO, which the stream's leader answers: a
    direct get may be answered by a replica that lags, and no position the store handed out is
    beyond the leader's last."""
    if not isinstance(recorder, JetStreamApplicationRecorder):
        return lambda: None  # another store (a unit test's): it cannot tell
    events = recorder.events

    def last_position() -> int | None:
        try:
            info = events.client.api(f"STREAM.INFO.{events.stream}", timeout=within)
        except JetStreamApiError as error:
            return 0 if error.err_code == ERR_STREAM_NOT_FOUND else None
        except OperationalError:
            return None  # unreachable now, or no answer in time
        return int(info.get("state", {}).get("last_seq", 0))

    return last_position
