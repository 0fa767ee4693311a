"""`cairn projector status | rebuild | retry` on a real stack."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.application import Application
from typer.testing import CliRunner

from entrypoints.projector_cli import projector_app
from infra.stack.launcher import StackEndpoints
from tests.integration.projections.support import Generator, cairn_env, event_store_env

pytestmark = pytest.mark.e2e


def test_status_rebuild_and_retry_from_the_command_line(
    stack: StackEndpoints, migrated_database_url: str, unique_name: str
) -> None:
    store: Application[uuid.UUID] = Application(env=event_store_env(stack, unique_name))
    try:
        Generator(store).write(300)
    finally:
        store.close()
    runner = CliRunner()
    env = {**cairn_env(stack, migrated_database_url, unique_name), "COLUMNS": "250"}

    before = runner.invoke(projector_app, ["status"], env=env)
    assert before.exit_code == 1, before.output  # nothing built, no worker running
    assert "directory_users" in before.output and "not built" in before.output

    for name in ("directory_users", "security_events"):
        built = runner.invoke(projector_app, ["rebuild", name], env=env)
        assert built.exit_code == 0, built.output
        assert f"{name}: generation 1 is now active" in built.output

    after = runner.invoke(projector_app, ["status"], env=env)
    assert "v1 g1" in after.output and "0 events, 0.0s" in after.output
    assert "not running" in after.output  # rebuilt, but no worker follows it now

    retried = runner.invoke(projector_app, ["retry", "security_events"], env=env)
    assert retried.exit_code == 0 and "0 resolved, 0 still failing" in retried.output
    unknown = runner.invoke(projector_app, ["rebuild", "nope"], env=env)
    assert unknown.exit_code != 0
