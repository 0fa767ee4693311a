"""What the terminal cannot do (a change bound to a passkey) it sends to the console: a
clear message with the console's URL for that screen, and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from clients.people import config
from clients.people.commands import NEEDS_CONSOLE_EXIT, reported
from clients.sdk import ApiError, Credentials

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("code", ["step_up_required", "insufficient_scope"])
def test_a_passkey_bound_change_names_the_console_screen(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAIRN_CONFIG_DIR", str(tmp_path))
    credentials = Credentials(access_token="a", refresh_token="r")
    config.save("http://127.0.0.1:8000", credentials, "http://localhost:8000")
    with pytest.raises(typer.Exit) as exited, reported("/#/policies"):
        raise ApiError(403, code, "sign it", {"options": {}})
    assert exited.value.exit_code == NEEDS_CONSOLE_EXIT != 0
    said = capsys.readouterr().err
    assert code in said and ("passkey" in said or "autonomy:write" in said)
    assert "http://localhost:8000/#/policies" in said
    # A refresh saves the tokens again and keeps the console's address.
    config.save("http://127.0.0.1:8000", credentials)
    assert config.console_url("/#/") == "http://localhost:8000/#/"


def test_other_errors_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited, reported():
        raise ApiError(409, "conflict", "changed meanwhile")
    assert exited.value.exit_code == 1
    assert "conflict" in capsys.readouterr().err
