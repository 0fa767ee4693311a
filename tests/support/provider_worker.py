"""`cairn worker` with the test-only connected-account tokens of tests/support: the same
`WorkerService` (and so the same executor, adapters and failpoints) as `entrypoints.worker_cli`,
started as its own process so that a test can SIGKILL it. Only the token source differs, until
the real `ConnectionTokens` is wired in the composition root.

    CAIRN_TEST_PROVIDER_TOKEN=... python -m tests.support.provider_worker
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

from commands.bootstrap import bootstrap
from commands.settings import CairnSettings
from commands.worker_service import WorkerService
from tests.support.connection_tokens import FixedTokens

TOKEN_ENV = "CAIRN_TEST_PROVIDER_TOKEN"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = CairnSettings.from_env()
    services = bootstrap(settings)
    token = os.environ[TOKEN_ENV]
    services.connection_tokens = FixedTokens({"google": [token], "microsoft": [token]})
    service = WorkerService(settings, services)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    service.run()
    services.close()


if __name__ == "__main__":
    main()
