"""Settings for one Cairn of a test on the shared stack."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from adapters.postgres.migrations import migrate
from commands.settings import CairnSettings
from infra.stack.launcher import StackEndpoints
from tests.support.authenticator import EXAMPLE_ORIGIN, EXAMPLE_RP_ID


def isolated_settings(
    stack: StackEndpoints, database_url: str, name: str, data_dir: Path, **overrides: Any
) -> CairnSettings:
    """Settings for one Cairn on the shared stack with a stream, Redis prefix and (migrated)
    database of its own, and the test relying party of the software authenticator."""
    migrate(database_url)
    settings = CairnSettings(
        nats_url=stack.nats_url,
        database_url=database_url,
        redis_url=stack.redis_url,
        nats_monitor_url=stack.nats_monitor_url,
        data_dir=data_dir,
        stream=name,
        subject_prefix=name,
        rp_id=EXAMPLE_RP_ID,
        origins=(EXAMPLE_ORIGIN,),
        redis_prefix=name,
        # A killed worker's run events come back to another worker after this long.
        worker_ack_wait_s=3.0,
        worker_concurrency=8,
        # The tests' upstream MCP servers run on this machine.
        allow_private_mcp_servers=True,
    )
    return dataclasses.replace(settings, **overrides)
