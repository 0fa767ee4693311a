"""Runs the pipeline off the request path: the API answers 202 and a worker advances the run."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from uuid import UUID

from commands.runs.pipeline import PipelinePorts, advance
from domain.runs.run import RunStatus

logger = logging.getLogger("cairn.runs")


class RunWorker:
    def __init__(self, ports: PipelinePorts, threads: int = 4) -> None:
        self.ports = ports
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cairn-run")

    def submit(self, run_id: UUID, tenant_id: UUID) -> Future[RunStatus | None]:
        return self._pool.submit(self._advance, run_id, tenant_id)

    def _advance(self, run_id: UUID, tenant_id: UUID) -> RunStatus | None:
        try:
            return advance(run_id, tenant_id, self.ports)
        except Exception:
            # The run stays where it is; a later submit (or restart recovery) tries again.
            logger.exception("advancing run %s failed", run_id)
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


INTENT_TOPIC = "domain.runs.run:Run.IntentSubmitted"
# States a worker moves on by itself; an escalation waits for the person (or its expiry).
_RESUMABLE = {RunStatus.SUBMITTED, RunStatus.PLANNED, RunStatus.APPROVED, RunStatus.EXECUTING}


def resume_unfinished(worker: RunWorker, page: int = 500) -> int:
    """After a restart, hand every run that stopped mid-way (crash, deploy) back to the
    worker; its steps' idempotency keys make a resumed step act at most once. Returns how
    many were resumed."""
    app = worker.ports.runs
    resumed = 0
    start = 1
    while notifications := app.recorder.select_notifications(
        start=start, limit=page, topics=[INTENT_TOPIC]
    ):
        for notification in notifications:
            submitted: Any = app.mapper.to_domain_event(notification)
            if submitted.tenant_id is None:
                continue
            run: Any = app.repository.get(submitted.originator_id)
            if run.status in _RESUMABLE:
                try:
                    worker.submit(run.id, submitted.tenant_id)
                except RuntimeError:
                    return resumed  # the worker is shutting down: the next start resumes
                resumed += 1
        start = notifications[-1].id + 1
    if resumed:
        logger.info("resumed %d unfinished runs", resumed)
    return resumed
