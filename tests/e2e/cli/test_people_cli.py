"""`cairn login` (device grant) and `cairn intent --wait` in a terminal, driven by the test;
the person approves the device code through the HTTP API with their passkey."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clients.sdk import Cairn
from clients.sdk.device import approve_device, deny_device
from tests.e2e.push.harness import LiveCairn
from tests.e2e.sdk.conftest import SARAH, model_answers
from tests.support.authenticator import EXAMPLE_ORIGIN, SoftwareAuthenticator
from tests.support.provider_server import FakeProvider

pytestmark = pytest.mark.e2e

CAIRN = str(Path(sys.executable).parent / "cairn")
TIMEOUT_S = 240  # the CLI imports the operator commands too; a loaded machine starts it slowly


def person(live: LiveCairn, slug: str) -> tuple[Cairn, SoftwareAuthenticator]:
    passkey = SoftwareAuthenticator(EXAMPLE_ORIGIN)
    cairn = Cairn(live.base_url)
    cairn.sign_up(
        passkey,
        tenant_slug=slug,
        tenant_name=slug.title(),
        display_name="Ada",
        email=f"ada@{slug}.example.com",
    )
    return cairn, passkey


def terminal_env(live: LiveCairn, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CAIRN_CONFIG_DIR"}
    return {**env, "CAIRN_API_URL": live.base_url, "XDG_CONFIG_HOME": str(home), "NO_COLOR": "1"}


def cairn(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAIRN, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False
    )


def log_in(env: dict[str, str], decide: Any) -> subprocess.CompletedProcess[str]:
    """`cairn login --json`: the code it shows is decided by `decide(user_code)`."""
    login = subprocess.Popen(
        [CAIRN, "login", "--json", "--device-name", "terminal"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert login.stdout is not None
    shown = json.loads(login.stdout.readline())
    assert "device_code" not in shown  # the device's secret is never printed
    assert shown["verification_uri_complete"].endswith(shown["user_code"])
    decide(shown["user_code"])
    out, err = login.communicate(timeout=TIMEOUT_S)
    return subprocess.CompletedProcess(login.args, login.returncode, out, err)


@pytest.mark.long(38)
def test_cairn_login_then_intent_wait_prints_the_completed_run(
    live: LiveCairn, provider: FakeProvider, tmp_path: Path
) -> None:
    ada, passkey = person(live, "terminal")
    assert ada.credentials is not None and ada.credentials.tenant_id is not None
    model_answers(live, ada.credentials.tenant_id, SARAH)
    env = terminal_env(live, tmp_path / "xdg")
    assert cairn(env, "runs").returncode == 1  # not signed in yet

    login = log_in(env, lambda code: approve_device(ada, code, passkey))
    assert login.returncode == 0, login.stderr
    signed_in = json.loads(login.stdout.strip().splitlines()[-1])
    assert signed_in["signed_in"] is True and signed_in["user_id"] == ada.credentials.user_id
    kept = tmp_path / "xdg" / "cairn" / "session.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700

    done = cairn(
        env, "intent", "Schedule a meeting with Sarah next Tuesday at 2pm", "--wait", "--json"
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "completed", run
    assert [entry["type"] for entry in run["timeline"]][-1] == "RunCompleted"
    assert provider.performed("calendar.create_event") == 1

    # For people: the timeline as it happens (stderr), then the run.
    human = cairn(env, "intent", "Another meeting with Sarah", "--wait")
    assert human.returncode == 0, human.stderr
    # Each event after the submission, one line each: "  <time>  <event>".
    timeline = [line.split()[1] for line in human.stderr.splitlines() if line.startswith("  ")]
    assert timeline == [
        "PlanProposed",
        "PolicyDecided",
        "StepStarted",
        "StepSucceeded",
        "RunCompleted",
    ], human.stderr
    assert "completed" in human.stdout.splitlines()[0]

    listed = cairn(env, "runs", "--json")
    items = json.loads(listed.stdout)["items"]
    assert len(items) == 2 and run["run_id"] in [item["run_id"] for item in items]
    shown = cairn(env, "run", run["run_id"])
    assert "completed" in shown.stdout and "calendar.create_event" in shown.stdout
    policies = cairn(env, "policies", "get", "--json")
    assert json.loads(policies.stdout)["is_default"] is True


@pytest.mark.long(9)
def test_a_denied_device_is_not_signed_in(live: LiveCairn, tmp_path: Path) -> None:
    ada, _ = person(live, "denied")
    env = terminal_env(live, tmp_path / "xdg")
    login = log_in(env, lambda code: deny_device(ada, code))
    assert login.returncode == 1
    assert "denied" in login.stderr
    assert not (tmp_path / "xdg" / "cairn" / "session.json").exists()
