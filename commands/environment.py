"""How `CairnSettings.from_env` reads its values: one clear error per bad variable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Literal, cast

from commands.ports.push import PushSettings
from domain.errors import InvalidInput

OnError = Literal["stop", "skip"]  # what a projector does at a poison event

_ON_ERROR_PREFIX, _ON_ERROR_SUFFIX = "CAIRN_PROJECTOR_", "_ON_ERROR"
PUSH_ENV = {
    "heartbeat_s": "CAIRN_PUSH_HEARTBEAT_S",
    "buffer": "CAIRN_PUSH_BUFFER",
    "reauth_s": "CAIRN_PUSH_REAUTH_S",
    "max_subscribers": "CAIRN_PUSH_MAX_SUBSCRIBERS",
    "feed_batch": "CAIRN_PUSH_FEED_BATCH",
    "feed_heartbeat_s": "CAIRN_PUSH_FEED_HEARTBEAT_S",
    "audit_max_scan": "CAIRN_AUDIT_MAX_SCAN",
}


def count(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}, not {value}")
    return value


def between(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name) or ""
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, not {value}")
    return value


def json_object(env: Mapping[str, str], name: str) -> dict[str, dict[str, object]]:
    """A JSON object of objects (e.g. CAIRN_OAUTH_PROVIDERS); empty when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a JSON object") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise InvalidInput(f"{name} must be a JSON object of objects")
    return value


def auth_cache_s(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise InvalidInput(f"CAIRN_AUTH_CACHE_S must be 0..60 seconds, not {text!r}")
    return seconds


def provider_urls(text: str) -> dict[str, str]:
    """ "google=https://...,bank=https://..." as {"google": "https://...", ...}."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {name.strip(): url.strip() for name, url in pairs}


def push_settings(env: Mapping[str, str]) -> PushSettings:
    values: dict[str, float | int] = {}
    for item in fields(PushSettings):
        raw = env.get(PUSH_ENV[item.name])
        if not raw:
            continue
        try:
            value = float(raw) if item.type in ("float", float) else int(raw)
        except ValueError as exc:
            raise InvalidInput(f"{PUSH_ENV[item.name]}={raw!r} is not a number") from exc
        if value <= 0:
            raise InvalidInput(f"{PUSH_ENV[item.name]} must be positive, not {raw!r}")
        values[item.name] = value
    return PushSettings(**values)  # type: ignore[arg-type]


def push_env(push: PushSettings) -> dict[str, str]:
    return {PUSH_ENV[item.name]: str(getattr(push, item.name)) for item in fields(push)}


def on_error_name(projector: str) -> str:
    return f"{_ON_ERROR_PREFIX}{projector.upper()}{_ON_ERROR_SUFFIX}"


def on_error_by_projector(env: Mapping[str, str]) -> dict[str, OnError]:
    """`CAIRN_PROJECTOR_<NAME>_ON_ERROR=stop|skip`, per projector name."""
    on_error: dict[str, OnError] = {}
    for key, value in env.items():
        if key.startswith(_ON_ERROR_PREFIX) and key.endswith(_ON_ERROR_SUFFIX):
            name = key[len(_ON_ERROR_PREFIX) : -len(_ON_ERROR_SUFFIX)].lower()
            if value not in ("stop", "skip"):
                raise InvalidInput(f"{key} must be 'stop' or 'skip', not {value!r}")
            on_error[name] = cast(OnError, value)
    return on_error
