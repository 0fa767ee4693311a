"""Where `cairn login` keeps the session: the user's config folder (XDG), readable by them
alone (0600 file in a 0700 folder)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from clients.sdk import Credentials

DEFAULT_API = "http://127.0.0.1:8000"
FILE_NAME = "session.json"


def config_dir() -> Path:
    """$CAIRN_CONFIG_DIR, else the platform's user config folder ($XDG_CONFIG_HOME/cairn)."""
    given = os.environ.get("CAIRN_CONFIG_DIR")
    return Path(given) if given else Path(user_config_dir("cairn"))


def session_file() -> Path:
    return config_dir() / FILE_NAME


def save(api: str, credentials: Credentials, console: str | None = None) -> Path:
    """Written beside the target with 0600 from its creation, then renamed over it: the
    tokens are never readable by others, not even for a moment. `console`: the web console's
    origin (where passkeys work), kept from the login when not given."""
    console = console or _stored().get("console")
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    target = folder / FILE_NAME
    partial = folder / (FILE_NAME + ".partial")
    text = json.dumps(
        {"api": api, "console": console, "credentials": asdict(credentials)}, indent=2
    )
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    partial.replace(target)
    return target


def _stored() -> dict[str, Any]:
    try:
        data = json.loads(session_file().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load() -> tuple[str, Credentials] | None:
    data = _stored()
    if "api" not in data:
        return None
    return str(data["api"]), Credentials(**data["credentials"])


def console_url(path: str = "/") -> str:
    """The web console at `path` (a screen, `/#/policies`): the origin `cairn login` was
    approved at, where passkeys work, else the API's own address."""
    data = _stored()
    base = data.get("console") or data.get("api") or DEFAULT_API
    return str(base).rstrip("/") + path


def forget() -> None:
    session_file().unlink(missing_ok=True)
