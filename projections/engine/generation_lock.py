"""A generation has one writer at a time: a session advisory lock on a connection of its own
(released by PostgreSQL when the process dies, even by `kill -9`)."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg

from projections.engine import generations

logger = logging.getLogger("cairn.projections")


class GenerationLock:
    def __init__(self, database_url: str, projector: str, generation: int) -> None:
        self._url = database_url
        self._key = (generations.lock_key(projector), generation)
        self._conn: psycopg.Connection[Any] | None = None

    def acquire(self, stop: threading.Event) -> bool:
        conn = psycopg.connect(self._url, autocommit=True)
        waited = False
        while not stop.is_set():
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self._key).fetchone()
            if row is not None and row[0]:
                self._conn = conn
                return True
            if not waited:
                logger.info("generation %s is written by another worker; waiting", self._key)
                waited = True
            stop.wait(0.1)
        conn.close()
        return False

    def release(self) -> None:
        if self._conn is not None:
            # If the connection died, the lock went with it.
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", self._key)
            self._conn.close()
            self._conn = None
