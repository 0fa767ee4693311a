"""A real Cairn API (uvicorn on a free port, own stream/database/prefix) for push and audit
tests, people signed up with software passkeys, and a small SSE reader."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from nats.aio.msg import Msg

from adapters.jetstream import headers as h
from adapters.jetstream.recorders import JetStreamApplicationRecorder
from api.app import create_app
from api.settings import ServiceUrls
from clients.sdk import Cairn as Sdk
from clients.sdk import Credentials
from commands.bootstrap import Services
from commands.settings import CairnSettings
from commands.worker_service import WorkerService
from domain.event_context import EventContext
from infra.stack.launcher import StackEndpoints
from infra.stack.ports import free_port
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.support.cairn_settings import isolated_settings
from tests.support.workers import worker_thread

PUSH_ENV = {"CAIRN_PUSH_HEARTBEAT_S": "0.5", "CAIRN_PUSH_FEED_HEARTBEAT_S": "0.5"}


@dataclass
class Member:
    authenticator: SoftwareAuthenticator
    session: dict[str, Any]

    @property
    def token(self) -> str:
        return str(self.session["access_token"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def tenant(self) -> str:
        return str(self.session["tenant_id"])

    @property
    def user_id(self) -> str:
        return str(self.session["user_id"])


class HttpCairn:
    """People signed up and invited through the SDK, against any running Cairn."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _member(self, authenticator: SoftwareAuthenticator, client: Sdk) -> Member:
        credentials = client.credentials
        assert credentials is not None
        return Member(authenticator, {**asdict(credentials), "position": client.position})

    def sign_up(self, slug: str) -> Member:
        authenticator = SoftwareAuthenticator(EXAMPLE_ORIGIN)
        client = Sdk(http=self.http)
        client.sign_up(
            authenticator,
            tenant_slug=slug,
            tenant_name=slug.title(),
            display_name="Ada Lovelace",
            email=f"ada@{slug}.example.com",
            device_name="phone",
        )
        return self._member(authenticator, client)

    def invite(self, admin: Member, name: str) -> Member:
        invited = Sdk(http=self.http, credentials=Credentials(admin.token))
        invitation = invited.invite(f"{name}@example.com")
        authenticator = SoftwareAuthenticator(EXAMPLE_ORIGIN)
        client = Sdk(http=self.http)
        client.accept_invitation(authenticator, invitation.invitation_token, name)
        return self._member(authenticator, client)


class LiveCairn(HttpCairn):
    """The API in a uvicorn thread of the test process (so tests can look behind it)."""

    def __init__(self, settings: CairnSettings, *, with_worker: bool = True) -> None:
        self.settings = settings
        self.with_worker = with_worker  # False: runs written by a test stay as written
        urls = ServiceUrls(
            settings.nats_url, settings.database_url, settings.redis_url, settings.nats_monitor_url
        )
        self.app = create_app(urls, settings=settings)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="cairn-api", daemon=True)
        self._worker: AbstractContextManager[WorkerService] | None = None
        self.worker: WorkerService | None = None
        super().__init__(httpx.Client(base_url=self.base_url, timeout=10))

    def start(self) -> LiveCairn:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        if self.with_worker:
            self._worker = worker_thread(self.settings, self.services)
            self.worker = self._worker.__enter__()
        return self

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.__exit__(None, None, None)
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    @property
    def recorder(self) -> JetStreamApplicationRecorder:
        recorder = self.services.identity.app.recorder
        assert isinstance(recorder, JetStreamApplicationRecorder)
        return recorder

    def record(self, tenant: str, n: int, **context: str) -> int:
        """Append one event (a SecurityEvent) to the tenant's stream; returns its position."""
        position = self.services.identity.record_security_event(
            "push.test",
            "ok",
            tenant_id=UUID(tenant),
            details={"n": n},
            context=EventContext(**context),
        )
        assert position is not None
        return position

    def store_messages(self, tenant: str, after: int = 0) -> list[Msg]:
        """The tenant's events as the store holds them (the event store's own reader)."""
        reader = self.recorder.events.reader
        subjects = f"{self.settings.subject_prefix}.{tenant}.*.*"
        return [m for m in reader.scan(subjects, after + 1) if _seq(m) > after]


def _seq(msg: Msg) -> int:
    return int((msg.headers or {})[h.NATS_SEQUENCE])


def store_positions(messages: list[Msg]) -> list[int]:
    return [_seq(m) for m in messages]


def live_settings(
    stack: StackEndpoints, database_url: str, name: str, data_dir: Path
) -> CairnSettings:
    push = CairnSettings.from_env(PUSH_ENV, servers_required=False).push
    return isolated_settings(stack, database_url, name, data_dir, push=push, env=dict(PUSH_ENV))


@pytest.fixture
def live(
    stack: StackEndpoints, migrated_database_url: str, unique_name: str, tmp_path: Path
) -> Iterator[LiveCairn]:
    cairn = LiveCairn(live_settings(stack, migrated_database_url, unique_name, tmp_path)).start()
    try:
        yield cairn
    finally:
        cairn.stop()


def serve() -> None:
    """`python -m tests.e2e.push.harness`: the API with push, configured by CAIRN_* variables
    (the benchmark runs it in its own process, beside its clients)."""
    settings = CairnSettings.from_env()
    app = create_app(ServiceUrls.of(settings), settings=settings)
    port = int(os.environ["CAIRN_API_PORT"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    serve()


# ---- Server-Sent Events reading ----------------------------------------------------------


@dataclass
class SseFrame:
    id: str | None = None
    event: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def position(self) -> int:
        assert self.id is not None
        return int(self.id)


def sse_frames(lines: Iterator[str]) -> Iterator[SseFrame]:
    frame = SseFrame()
    for line in lines:
        if line == "":
            if frame.id is not None or frame.event is not None or frame.data or frame.comments:
                yield frame
            frame = SseFrame()
        elif line.startswith(":"):
            frame.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                frame.id = value
            elif name == "event":
                frame.event = value
            elif name == "data":
                frame.data = f"{frame.data}\n{value}" if frame.data else value
