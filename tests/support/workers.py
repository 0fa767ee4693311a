"""A run worker in a thread of the test process: the same `WorkerService` as `cairn worker`,
sharing the API's services so that a test can swap the model or the clock behind it.

Like `cairn worker` (entrypoints/worker_cli.settle), litellm's call path is imported before
the worker starts: once per test process, in the fixture's setup. Otherwise the first test of
each process waits ~3 s for it inside its first run, and anything that reads `sys.modules`
meanwhile (hypothesis does, for each case it draws) sees it change size under it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.llm.gateway import first_call_done
from commands.bootstrap import Services
from commands.settings import CairnSettings
from commands.worker_service import WorkerService


@contextmanager
def worker_thread(settings: CairnSettings, services: Services) -> Iterator[WorkerService]:
    first_call_done()
    service = WorkerService(settings, services)
    ready = threading.Event()
    thread = threading.Thread(target=service.run, args=(ready,), name="test-worker", daemon=True)
    thread.start()
    if not ready.wait(30):
        service.stop()
        raise RuntimeError("the run worker did not start within 30 s")
    try:
        yield service
    finally:
        service.stop()
        thread.join(30)
