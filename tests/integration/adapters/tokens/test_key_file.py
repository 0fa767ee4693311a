from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from adapters.tokens import AccessTokens, SigningKeyError, TokenKeys

pytestmark = pytest.mark.integration


def test_dev_key_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "jwt.pem"
    first = TokenKeys.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = TokenKeys.load_or_create(path)
    assert again.signing_kid == first.signing_kid
    token = AccessTokens(first).issue(
        tenant="t", user_id="u", session_id="s", device_id="d", auth_time=0
    )
    assert AccessTokens(again).verify_access_token(token).user_id == "u"


def test_dev_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwt.pem"
    TokenKeys.load_or_create(path)
    os.chmod(path, 0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        TokenKeys.load_or_create(path)


def test_configured_key_wins_over_the_dev_file(tmp_path: Path) -> None:
    configured = TokenKeys.generate()
    pem = configured.signing_key.as_pem(private=True).decode()
    keys = TokenKeys.from_env({"CAIRN_JWT_PRIVATE_KEY": pem}, dev_key_path=tmp_path / "k.pem")
    assert keys.signing_kid == configured.signing_kid
    assert not (tmp_path / "k.pem").exists()
    from_file = TokenKeys.from_env({}, dev_key_path=tmp_path / "k.pem")
    assert (tmp_path / "k.pem").exists() and from_file.signing_kid != configured.signing_kid
