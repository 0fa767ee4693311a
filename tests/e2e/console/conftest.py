"""The web console in a real browser against the real stack: one chromium per session, a new
browser context (cookies, storage, tabs) and a new Cairn (stream, database, Redis prefix) per
test."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from adapters.llm.gateway import LiteLLMGateway, load_litellm
from adapters.llm.mock import MockAnswer
from adapters.llm.planner import LiteLLMPlanner
from api.app import create_app
from api.settings import ServiceUrls
from commands.bootstrap import Services
from commands.settings import CairnSettings
from commands.worker_service import WorkerService
from entrypoints.projector_cli import projection_settings
from infra.stack.launcher import StackEndpoints
from projections.engine import projector_registry
from projections.engine.projector_host import ProjectorHost
from tests.support.browser import Passkeys, launched_chromium
from tests.support.cairn_settings import isolated_settings
from tests.support.provider_server import FakeProvider
from tests.support.workers import worker_thread

pytestmark = pytest.mark.e2e

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
# A bound for what the page waits on (a plan, a worker on a busy machine), not a speed goal.
expect.set_options(timeout=30_000)


class ConsoleCairn:
    """Cairn serving the console on http://localhost:<port>, with its projectors and a run
    worker in threads of the test process (so a test can choose what the model answers)."""

    def __init__(self, settings: CairnSettings, listener: socket.socket) -> None:
        self.settings = settings
        port = listener.getsockname()[1]
        self.base_url = f"http://localhost:{port}"
        urls = ServiceUrls(
            settings.nats_url, settings.database_url, settings.redis_url, settings.nats_monitor_url
        )
        self.app = create_app(urls, settings=settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, args=([listener],), name="console-api", daemon=True
        )
        self.projectors = ProjectorHost(
            projection_settings(settings), list(projector_registry.PROJECTORS.values())
        )
        self.worker: WorkerService | None = None

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def answer_with(self, plan: dict[str, Any]) -> None:
        """Every model call answers `plan`, through litellm's own mock path."""
        assert self.worker is not None
        gateway = LiteLLMGateway(lambda _model: MockAnswer.text(json.dumps(plan)))
        runs = self.worker.runs
        runs.ports = dataclasses.replace(runs.ports, planner=LiteLLMPlanner(gateway=gateway))

    def run_events(self, run_id: str) -> list[str]:
        """The run's events as the store holds them."""
        app = self.services.runs.app
        return [type(e).__name__ for e in app.events.get(uuid.UUID(run_id))]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def litellm_imported() -> None:
    """litellm's import (seconds on a busy machine) happens once, before any page waits for
    a plan, not inside the first test that states an intent."""
    load_litellm()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def console(
    stack: StackEndpoints,
    migrated_database_url: str,
    unique_name: str,
    tmp_path: Path,
    provider: FakeProvider,
    litellm_imported: None,
) -> Iterator[ConsoleCairn]:
    # Bound here and handed to uvicorn: no other process can take the port in between.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        settings = isolated_settings(
            stack,
            migrated_database_url,
            unique_name,
            tmp_path,
            rp_id="localhost",
            origins=(f"http://localhost:{port}",),
            provider_urls={name: provider.base_url for name in ("google", "bank", "local")},
        )
        cairn = ConsoleCairn(settings, listener)
        cairn.thread.start()
        try:
            deadline = time.monotonic() + 30
            while not cairn.server.started:
                if not cairn.thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the API did not start")
                time.sleep(0.02)
            with cairn.projectors, worker_thread(settings, cairn.services) as worker:
                cairn.worker = worker
                yield cairn
        finally:
            cairn.server.should_exit = True
            cairn.thread.join(timeout=15)


@pytest.fixture
def context(browser: Browser, console: ConsoleCairn) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=console.base_url, viewport=DESKTOP)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def passkeys(context: BrowserContext, page: Page) -> Passkeys:
    return Passkeys.attach(context, page)
