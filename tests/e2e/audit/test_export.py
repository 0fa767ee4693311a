"""`cairn audit export`: every line is the store's bytes for its sequence, one tenant only."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.audit_cli import audit_app
from infra.stack.errors import StackError
from tests.e2e.push.harness import LiveCairn, store_positions

pytestmark = pytest.mark.e2e


def test_export_round_trips_the_stored_bytes(live: LiveCairn, tmp_path: Path) -> None:
    ada, bob = live.sign_up("exporta"), live.sign_up("exportb")
    for n in range(40):
        live.record(ada.tenant, n, actor="robot", correlation_id=f"c{n}")
        live.record(bob.tenant, n)
    out = tmp_path / "ada.ndjson"
    s = live.settings
    result = CliRunner().invoke(
        audit_app,
        ["export", "--tenant", ada.tenant, "--out", str(out)],  # with its progress bar
        env={
            "CAIRN_NATS_URL": s.nats_url,
            "CAIRN_STREAM": s.stream,
            "CAIRN_SUBJECT_PREFIX": s.subject_prefix,
        },
    )
    assert result.exit_code == 0, result.output
    assert f"event(s) of tenant {ada.tenant}" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]

    assert [line["seq"] for line in lines] == store_positions(live.store_messages(ada.tenant))
    client = live.recorder.events.client
    notifications = {n.id: n for n in live.recorder.select_notifications(start=1, limit=10_000)}
    for line in lines:
        stored = client.api(f"STREAM.MSG.GET.{s.stream}", {"seq": line["seq"]})["message"]
        assert line["subject"] == stored["subject"]
        assert line["hdrs_b64"] == stored["hdrs"]  # the header block, byte for byte
        assert line["data_b64"] == stored["data"]  # the payload, byte for byte
        assert line["time"] == stored["time"]
        data = base64.b64decode(line["data_b64"])
        assert data == notifications[line["seq"]].state  # what the library reads back
        assert line["headers"]["Cairn-Tenant"] == ada.tenant
        assert line["subject"].split(".")[-3] == ada.tenant
    assert len(lines) >= 40


def test_export_refuses_a_tenant_that_is_no_subject_token(tmp_path: Path) -> None:
    bad = CliRunner().invoke(audit_app, ["export", "--tenant", "a.>", "--out", str(tmp_path / "x")])
    assert isinstance(bad.exception, StackError)
    assert "not a valid subject token" in str(bad.exception)
    assert not (tmp_path / "x").exists()
