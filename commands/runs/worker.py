"""Runs the pipeline off the request path: the API answers 202 and a worker advances the run."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
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
