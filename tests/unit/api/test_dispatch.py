"""What a command's Idempotency-Key record compares: the same text as before (decision 0063)."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import SecretStr

from api.dispatch import _payload
from commands.base import Command
from commands.integrations.connect import FinishConnect
from commands.runs.intents import SubmitIntent

pytestmark = pytest.mark.unit


def _as_before(command: Command) -> bytes:
    def reveal(value: object) -> object:
        if isinstance(value, SecretStr):
            return hashlib.sha256(value.get_secret_value().encode()).hexdigest()
        return str(value)

    fields = json.dumps(command.model_dump(), default=reveal, sort_keys=True)
    return f"{type(command).__name__}\n{fields}".encode()


@pytest.mark.parametrize(
    "command",
    [
        SubmitIntent(text="book a table for two at eight"),
        SubmitIntent(text='caf\u00e9 \u2603 "quoted" \\ back', channel="voice"),
        FinishConnect(state="s" * 16, code=SecretStr("the provider's code"), iss=None),
        FinishConnect(state="t" * 16, error="access_denied"),
    ],
)
def test_a_commands_payload_is_the_text_it_was(command: Command) -> None:
    assert _payload(command) == _as_before(command)


def test_a_secret_is_in_the_payload_as_its_digest_only() -> None:
    payload = _payload(FinishConnect(state="s" * 16, code=SecretStr("the provider's code")))
    assert b"the provider's code" not in payload
    assert hashlib.sha256(b"the provider's code").hexdigest().encode() in payload
