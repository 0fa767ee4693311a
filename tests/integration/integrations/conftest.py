"""The connection tests' Cairn on the real stack, wired to the test OAuth server
(connections_support.py). A module asks for Microsoft's shape by overriding `oauth_shape`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.bootstrap import Services
from commands.settings import CairnSettings
from infra.stack.launcher import StackEndpoints
from tests.integration.integrations.connections_support import (
    REDIRECT,
    services_for,
    settings_for,
)
from tests.support.oauth_server import TestOAuthServer


@pytest.fixture
def oauth_shape() -> str:
    """The test server's shape, which is also the provider Cairn is configured with."""
    return "google"


@pytest.fixture
def server(oauth_shape: str) -> Iterator[TestOAuthServer]:
    with TestOAuthServer(REDIRECT, shape=oauth_shape) as running:
        yield running


@pytest.fixture
def settings(
    stack: StackEndpoints,
    migrated_database_url: str,
    unique_name: str,
    tmp_path: Path,
    server: TestOAuthServer,
    oauth_shape: str,
) -> CairnSettings:
    return settings_for(stack, migrated_database_url, unique_name, tmp_path, server, oauth_shape)


@pytest.fixture
def services(settings: CairnSettings) -> Iterator[Services]:
    built = services_for(settings)
    yield built
    built.close()
