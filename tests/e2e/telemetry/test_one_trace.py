"""Must show: an intent is one trace. The API (uvicorn in this process, spans into memory and
to a local OTLP receiver), a `cairn worker` process and a `cairn projector run runs` process
(each exporting OTLP/HTTP to that receiver) and the SSE push all put their spans into the
trace of the `POST /v1/intents` request."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from infra.stack.launcher import StackEndpoints
from tests.e2e.push.harness import LiveCairn, Member, live_settings, sse_frames
from tests.e2e.runs.test_intent_lifecycle import SARAH
from tests.e2e.telemetry.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.provider_server import FakeProvider
from tests.support.telemetry import Captured, traced

pytestmark = pytest.mark.e2e

LAST = "Run.RunCompleted"


def _otel_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "CAIRN_LOG_FORMAT": "json",
    }


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", *args],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class Pushed:
    """The SSE events one subscriber receives, read by a thread."""

    def __init__(self, live: LiveCairn, member: Member) -> None:
        self.events: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(live, member), daemon=True)
        self._thread.start()

    def _read(self, live: LiveCairn, member: Member) -> None:
        params = {"access_token": member.token}
        with live.http.stream("GET", "/v1/stream", params=params, timeout=60) as response:
            for frame in sse_frames(response.iter_lines()):
                if frame.event == "ready":
                    self.ready.set()
                elif frame.id is not None:
                    self.events.append(json.loads(frame.data))
                    if frame.event == LAST:
                        self.done.set()
                        return


def _until(check: Callable[[], bool], what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:.0f}s: {what}")
        time.sleep(0.1)


def _json_records(log: Path) -> list[dict[str, Any]]:
    """The process's log records (lines that are not JSON, e.g. Python's own warnings, are
    not records of its logging)."""
    lines = log.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def _names(spans: list[ReceivedSpan], service: str) -> set[str]:
    return {span.name for span in spans if span.service == service}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.mark.long(22)
def test_an_intent_is_one_trace_across_processes_and_reaches_the_otlp_receiver(
    stack: StackEndpoints,
    migrated_database_url: str,
    unique_name: str,
    tmp_path: Path,
    provider: FakeProvider,
    receiver: OtlpReceiver,
) -> None:
    answer = tmp_path / "plan.json"
    answer.write_text(json.dumps(SARAH))
    settings = dataclasses.replace(
        live_settings(stack, migrated_database_url, unique_name, tmp_path),
        llm_mock_answer_file=answer,
        provider_urls={name: provider.base_url for name in ("google", "bank", "local")},
    )
    env = {**os.environ, **settings.as_env(), **_otel_env(receiver)}
    captured: Captured
    with traced("cairn-api", otlp_endpoint=receiver.url) as captured:
        live = LiveCairn(settings, with_worker=False).start()
        processes = [
            _start(["worker"], env, tmp_path / "worker.log"),
            _start(["projector", "run", "runs"], env, tmp_path / "projector.log"),
        ]
        try:
            ada = live.sign_up("traced")
            store_provider_key(
                live.services.identity.vault,
                uuid.UUID(ada.tenant),
                LlmProvider.OPENAI,
                ProviderCredential(api_key=SecretStr("sk-test")),
            )
            pushed = Pushed(live, ada)
            assert pushed.ready.wait(30), "the push subscription did not start"
            accepted = live.http.post(
                "/v1/intents",
                headers={**ada.headers, "Idempotency-Key": uuid.uuid4().hex},
                json={"text": "Meeting with Sarah next Tuesday at 2pm"},
            )
            assert accepted.status_code == 202, accepted.text
            run_id = accepted.json()["run_id"]
            assert pushed.done.wait(90), f"no {LAST} pushed: {[e['event'] for e in pushed.events]}"
            (request,) = [s for s in captured.finished() if s.name == "POST /v1/intents"]
            trace_id = f"{request.context.trace_id:032x}"
            # The worker and the projector export in batches: wait until theirs arrived.
            _until(
                lambda: (
                    # A worker carries the run from its first event on (decision 0021): that
                    # span ends when the run does.
                    {"process Run.IntentSubmitted", "project Run.RunCompleted"}
                    <= {s.name for s in receiver.of_trace(trace_id)}
                ),
                "the worker's and the projector's spans at the receiver",
            )
        finally:
            for process in processes:
                _stop(process)
            live.stop()
    ours = [s for s in captured.finished() if f"{s.context.trace_id:032x}" == trace_id]
    names = {s.name for s in ours}
    # In the API process: request, command, its append, and the pushes of every event of the
    # run, those the worker stored included (their trace context came back from the store).
    assert {"POST /v1/intents", "command SubmitIntent", f"publish {unique_name}"} <= names
    run_events = [e["event"] for e in pushed.events if e["aggregate_id"] == run_id]
    assert run_events[0] == "Run.IntentSubmitted" and run_events[-1] == LAST
    assert {f"push {event}" for event in run_events} <= names
    # The other processes continued the same trace.
    received = receiver.of_trace(trace_id)
    worker, projector = _names(received, "cairn-worker"), _names(received, "cairn-projector")
    assert {"process Run.IntentSubmitted", "run step", f"publish {unique_name}"} <= worker
    assert {f"project {event}" for event in run_events} <= projector
    assert any(s.attributes.get("db.system") == "postgresql" for s in received)
    # The same spans of the API process reached the receiver.
    assert {s.context.span_id for s in ours} <= {int(s.span_id, 16) for s in received}
    # Parents: the worker's first span is a child of the API's append.
    (api_publish,) = [s for s in ours if s.name == f"publish {unique_name}"]
    (first_step,) = [s for s in received if s.name == "process Run.IntentSubmitted"]
    assert int(first_step.parent_span_id, 16) == api_publish.context.span_id
    # Both processes logged JSON records, telemetry's own first.
    for log in ("worker.log", "projector.log"):
        records = _json_records(tmp_path / log)
        assert any(r["logger"] == "cairn.telemetry" for r in records), records
        assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
