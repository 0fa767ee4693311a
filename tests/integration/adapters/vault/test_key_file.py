"""The development KEK file (`KeyRing.load_or_create`): real files, so not a unit test."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from adapters.vault import KEKS_ENV, KeyRing, VaultConfigurationError

pytestmark = pytest.mark.integration


def test_dev_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "vault" / "keks"
    first = KeyRing.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.versions == ("v1",)
    again = KeyRing.load_or_create(path)
    assert again.current_key == first.current_key
    # Same syntax as the variable, so the file can be moved into CAIRN_VAULT_KEKS.
    from_variable = KeyRing.from_env({KEKS_ENV: path.read_text()})
    assert from_variable.current_key == first.current_key
    assert [p.name for p in path.parent.iterdir()] == ["keks"]  # no temporary file left


def test_concurrent_creators_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keks"
    rings: list[KeyRing] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        rings.append(KeyRing.load_or_create(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(rings) == 8 and len({ring.current_key for ring in rings}) == 1


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keks"
    KeyRing.load_or_create(path)
    os.chmod(path, 0o640)
    with pytest.raises(VaultConfigurationError, match="chmod 600"):
        KeyRing.load_or_create(path)


def test_broken_key_file_names_the_file_not_the_key(tmp_path: Path) -> None:
    path = tmp_path / "keks"
    path.write_text("v1:c2hvcnQta2V5LW1hdGVyaWFs\n")
    path.chmod(0o600)
    with pytest.raises(VaultConfigurationError) as caught:
        KeyRing.load_or_create(path)
    assert str(path) in str(caught.value) and "c2hvcnQta2V5" not in str(caught.value)


def test_configured_keks_win_over_the_dev_file(tmp_path: Path) -> None:
    configured = KeyRing.generate("prod-1")
    ring = KeyRing.from_env(
        {KEKS_ENV: configured.to_config().reveal_text()}, dev_key_path=tmp_path / "keks"
    )
    assert ring.current_version == "prod-1" and not (tmp_path / "keks").exists()
    from_file = KeyRing.from_env({}, dev_key_path=tmp_path / "keks")
    assert (tmp_path / "keks").exists() and from_file.current_key != configured.current_key
