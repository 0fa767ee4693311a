from __future__ import annotations

import copy
import logging
import pickle

import pytest

from commands.ports.vault import ERASED, Erased, Secret, SecretRef, is_personal_token

pytestmark = pytest.mark.unit

PLAINTEXT = b"sk-very-secret-4711"


def test_secret_is_redacted_everywhere_it_could_be_printed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = Secret(PLAINTEXT)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>30}",
        format(secret, "^40"),
    ]
    shown.append(repr({"key": secret, "list": [secret]}))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("holding %s / %r", secret, secret)
    shown.append(caplog.text)
    for text in shown:
        assert "sk-very" not in text
    assert shown[0] == "Secret('***')"


def test_secret_reveals_on_request_and_compares_by_value() -> None:
    secret = Secret(PLAINTEXT)
    assert secret.reveal() == PLAINTEXT and len(secret) == len(PLAINTEXT)
    assert Secret.from_text("päss").reveal_text() == "päss"
    assert secret == Secret(bytearray(PLAINTEXT)) and secret != Secret(b"other")
    assert secret != PLAINTEXT  # never equal to the raw bytes: no accidental unwrapping


def test_secret_cannot_be_pickled_copied_out_or_changed() -> None:
    secret = Secret(PLAINTEXT)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        copy.copy(secret)
    with pytest.raises(AttributeError):
        secret._value = b"x"
    with pytest.raises(TypeError, match="not str"):
        Secret("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash(secret)


def test_erased_is_one_clear_marker() -> None:
    assert Erased() is ERASED
    assert str(ERASED) == "[erased]" and f"name: {ERASED}" == "name: [erased]"
    assert repr(ERASED) == "ERASED"
    assert isinstance(ERASED, str) and isinstance(ERASED, Erased)
    assert pickle.loads(pickle.dumps(ERASED)) is ERASED
    assert copy.deepcopy(ERASED) is ERASED
    assert not isinstance("[erased]", Erased)


def test_secret_ref_holds_no_secret_and_tokens_are_recognised() -> None:
    ref = SecretRef("tenant-a", "openai", 2)
    assert repr(ref) == "SecretRef(tenant='tenant-a', record_id='openai', data_key_version=2)"
    assert is_personal_token("pii:v1:user-1:0123456789abcdef:AAAA")
    assert not is_personal_token("alice@example.com") and not is_personal_token(None)
