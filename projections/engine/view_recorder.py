"""Writing view rows and the tracking position in ONE transaction: the library's
`PostgresTrackingRecorder`, with Cairn's tracking table and batches of statements."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    PersistenceError,
    Tracking,
)
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from projections.engine import dead_letters
from projections.engine.bulk_parameters import bulk_parameters
from projections.engine.projector_base import Writes

TRACKING_TABLE = "projection_tracking"
# Moves a tracking row from the position a writer expects (infra/migrations/0110).
_ADVANCE = "SELECT projection_advance(%s, %s, %s)"
_MOVED_BY_ANOTHER = "CA001"
# An operator's `retry` or `skip` is answered once it is durable.
_OPERATOR = "SET LOCAL ROLE cairn_owner; SET LOCAL synchronous_commit = on"
_CURRENT = "SELECT notification_id FROM projection_tracking WHERE application_name = %s FOR UPDATE"


# (projector, generation, aggregates a batch treats as held): all must still be held.
HoldCheck = tuple[str, int, frozenset[str]]


class TrackingConflict(Exception):
    """The tracking position is not where this writer left it: another writer advanced it.
    Nothing of the batch was written; start again from the recorded position."""


class HoldsChanged(TrackingConflict):
    """`retry` released an aggregate the batch treated as held. Nothing of the batch was
    written; start again from the recorded position, with the holds as they are now."""


def is_transient(error: BaseException) -> bool:
    """Connection trouble and the like: retry later, the event is not to blame."""
    return isinstance(error, OperationalError | InterfaceError | TrackingConflict)


def is_poison(error: BaseException) -> bool:
    """The database refused what the handler wrote (constraint, type, syntax...)."""
    return isinstance(error, PersistenceError) and not is_transient(error)


class _OwnerDatastore(PostgresDatastore):
    """A projector's own pool, whose connections write as cairn_owner (0040) for their whole
    session: no `SET LOCAL ROLE` in every batch. Nothing else uses these connections.

    Their commits do not wait for the WAL's flush (`synchronous_commit = off`): a batch is
    still all or nothing with its tracking position, and one PostgreSQL lost with its last
    commits is at an earlier position whose rows are exactly those before it, from which the
    projector applies the same events again (decision 0050)."""

    def after_connect_func(self) -> Callable[[psycopg.Connection[Any]], None]:
        library = super().after_connect_func()

        def after_connect(conn: psycopg.Connection[Any]) -> None:
            library(conn)
            conn.execute("SET ROLE cairn_owner")
            conn.execute("SET synchronous_commit = off")

        return after_connect


def datastore(database_url: str) -> PostgresDatastore:
    params = conninfo_to_dict(database_url)
    return _OwnerDatastore(
        dbname=str(params.get("dbname") or params.get("user") or "postgres"),
        host=str(params.get("host") or "localhost"),
        port=str(params.get("port") or "5432"),
        user=str(params.get("user") or "postgres"),
        password=str(params.get("password") or ""),
        # No check of the connection before each batch (a round trip each): a batch on a
        # connection PostgreSQL dropped fails as transient, the pool drops the connection and
        # the worker starts again from the recorded position (decision 0050).
        pre_ping=False,
    )


class ViewRecorder(PostgresTrackingRecorder):
    def __init__(self, store: PostgresDatastore) -> None:
        super().__init__(store, tracking_table_name=TRACKING_TABLE)

    def commit(
        self,
        writes: Writes,
        name: str,
        expected: int | None,
        position: int | None,
        holds: HoldCheck | None = None,
    ) -> None:
        """Run the statements and move the tracking from `expected` to `position`, atomically.

        The library's insert only refuses a position not above the recorded one; checking the
        position this writer started from as well (under a row lock) also refuses a batch that
        overlaps one another writer has committed. `retry` takes the same lock, so the holds
        checked here cannot be released before this commits.
        """
        target = expected if position is None else position
        with self.datastore.get_connection() as conn:
            try:
                # One round trip: BEGIN, the tracking's move (refused first if another writer
                # moved it), the statements and COMMIT, pipelined and synced once (psycopg's
                # own transaction block would sync at its start and at its end as well).
                with conn.pipeline():
                    curs = conn.cursor()
                    curs.execute("BEGIN")
                    curs.execute(_ADVANCE, (name, expected, target), prepare=True)
                    if holds is not None:
                        _check_holds(curs, name, holds)
                    _execute_all(curs, writes)
                    curs.execute("COMMIT")
            except BaseException as error:
                # Refused (the server skipped the rest, COMMIT too) or stopped halfway.
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    with contextlib.suppress(psycopg.Error):
                        conn.rollback()
                if isinstance(error, psycopg.Error) and error.sqlstate == _MOVED_BY_ANOTHER:
                    raise TrackingConflict(str(error)) from None
                raise

    def resolve(self, writes: Writes, name: str, letter: dead_letters.DeadLetter) -> bool:
        """Apply a retried event and mark it resolved in one transaction, under the tracking
        row's lock (no batch commits meanwhile); release its aggregate's hold if nothing of it
        is left open. False if the letter was not the aggregate's first open one any more."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(_OPERATOR)
            curs.execute(_CURRENT, (name,))
            row = curs.fetchone()
            current = row["notification_id"] if row is not None else None
            key = (letter.projector, letter.generation, letter.position)
            curs.execute(dead_letters.RESOLVE, (*key, *key))
            if curs.rowcount != 1:
                return False  # nothing was written: the transaction only took a row lock
            _execute_all(curs, writes)
            if current is None or current < letter.position:
                # Parked where the projector stopped as a whole (before decision 0011).
                self._insert_tracking(curs, Tracking(name, letter.position))
            curs.execute(
                dead_letters.RELEASE, (letter.projector, letter.generation, letter.originator_id)
            )
            return True

    def skip(self, name: str, letter: dead_letters.DeadLetter) -> bool:
        """Give up on a parked event (`skipped`), under the tracking row's lock; release its
        aggregate's hold if nothing of it is left open."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(_OPERATOR)
            curs.execute(_CURRENT, (name,))
            curs.execute(dead_letters.SKIP, (letter.projector, letter.generation, letter.position))
            if curs.rowcount != 1:
                return False
            curs.execute(
                dead_letters.RELEASE, (letter.projector, letter.generation, letter.originator_id)
            )
            return True

    def position(self, name: str) -> int | None:
        found: Any = self.max_tracking_id(name)
        return None if found is None else int(found)


def _check_holds(curs: Any, name: str, holds: HoldCheck) -> None:
    projector, generation, held = holds
    curs.execute(dead_letters.STILL_HELD, (projector, generation, list(held)))
    row = curs.fetchone()
    if row is None or row["count"] != len(held):
        raise HoldsChanged(f"{name}: an aggregate held back was released")


def _execute_all(curs: Any, writes: Writes) -> None:
    """In order; a run of bulk rows for one statement as one execution with a column array
    each, a run of the same statement as one (pipelined) executemany."""
    for query, is_bulk, run in writes.runs():
        if is_bulk:
            curs.execute(query, bulk_parameters(query, run))
        elif len(run) == 1:
            curs.execute(query, run[0][1])
        else:
            curs.executemany(query, [params for _, params, _ in run])
