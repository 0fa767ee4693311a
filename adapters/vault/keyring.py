"""Key-encryption keys (KEKs) from configuration: the root of the vault's key hierarchy.

`CAIRN_VAULT_KEKS="v1:<urlsafe base64 of 32 bytes>,v2:<...>"`: the last entry is current (it
wraps every new data key and `rotate_kek` moves all data keys to it); earlier entries stay only
to unwrap keys not yet re-wrapped. A KEK never touches a secret directly, so rotating it means
re-wrapping a few hundred bytes per tenant, not re-encrypting data.

Errors name the variable or file and the entry's position, never the key material, so a
configuration mistake can be reported in a log without leaking the key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, NoReturn

from adapters.vault.aead import KEY_BYTES, new_key
from adapters.vault.errors import VaultConfigurationError, VaultKeyUnknown
from commands.ports.vault import Secret

KEKS_ENV: Final = "CAIRN_VAULT_KEKS"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def new_kek_entry(version: str) -> str:
    """A fresh `version:key` entry to append to CAIRN_VAULT_KEKS (operator tool)."""
    _check_version(version, "the new KEK version")
    return f"{version}:{encode_key(new_key())}"


def _check_version(version: str, where: str) -> None:
    if not _VERSION.match(version):
        raise VaultConfigurationError(
            f"{where}: a KEK version is 1-32 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit"
        )


def _decode_key(encoded: str, where: str) -> bytes:
    if not _BASE64URL.match(encoded):
        raise VaultConfigurationError(f"{where}: the key is not urlsafe base64")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise VaultConfigurationError(f"{where}: the key is not urlsafe base64") from None
    if len(key) != KEY_BYTES:
        raise VaultConfigurationError(
            f"{where}: the key must decode to {KEY_BYTES} bytes, not {len(key)}"
        )
    return key


def _create_key_file(path: Path) -> None:
    """Write a complete file under a temporary name, then link it into place: another process
    starting at the same moment sees either no file or a whole one, never a half-written key,
    and of two racing creators the first link wins and the other reads the winner's file."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".kek-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(new_kek_entry("v1") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked its file first
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


class KeyRing:
    """The configured KEKs by version; `current_version` wraps new keys."""

    def __init__(self, keks: Sequence[tuple[str, bytes | Secret]]) -> None:
        if not keks:
            raise VaultConfigurationError("a key ring needs at least one KEK")
        keys: dict[str, Secret] = {}
        for version, key in keks:
            _check_version(version, f"KEK {version!r}")
            if version in keys:
                raise VaultConfigurationError(f"KEK version {version!r} is listed twice")
            secret = key if isinstance(key, Secret) else Secret(key)
            if len(secret) != KEY_BYTES:
                raise VaultConfigurationError(f"KEK {version!r} must be {KEY_BYTES} bytes")
            keys[version] = secret
        self._keys = keys
        self.current_version: str = keks[-1][0]

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def key(self, version: str) -> bytes:
        secret = self._keys.get(version)
        if secret is None:
            raise VaultKeyUnknown(
                f"key-encryption key {version!r} is not configured in {KEKS_ENV}; it is needed "
                "until `cairn vault rotate` has re-wrapped every key it wraps",
                {"kek_version": version, "configured": list(self._keys)},
            )
        return secret.reveal()

    @property
    def current_key(self) -> bytes:
        return self.key(self.current_version)

    def __repr__(self) -> str:
        return f"KeyRing(versions={list(self._keys)!r}, current={self.current_version!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a KeyRing cannot be pickled")

    # Building a key ring -------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, *, source: str = KEKS_ENV) -> KeyRing:
        """Entries separated by commas or newlines; blank ones ignored; the last is current."""
        entries = [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]
        if not entries:
            raise VaultConfigurationError(f"{source} lists no key-encryption key")
        keks: list[tuple[str, bytes]] = []
        for position, entry in enumerate(entries, start=1):
            where = f"{source}: entry {position} of {len(entries)}"
            version, separator, encoded = entry.partition(":")
            if not separator:
                raise VaultConfigurationError(
                    f"{where} is not '<version>:<urlsafe base64 of {KEY_BYTES} bytes>'"
                )
            version, encoded = version.strip(), encoded.strip()
            _check_version(version, where)
            where = f"{where} (version {version!r})"
            if any(version == seen for seen, _ in keks):
                raise VaultConfigurationError(f"{where} repeats a version listed earlier")
            keks.append((version, _decode_key(encoded, where)))
        return cls(keks)

    @classmethod
    def generate(cls, version: str = "v1") -> KeyRing:
        """A fresh key ring held only in memory (tests, throwaway processes)."""
        return cls([(version, new_key())])

    def with_new_key(self, version: str) -> KeyRing:
        """This ring plus a fresh KEK that becomes current (tests, key ceremonies)."""
        return KeyRing([*self._keys.items(), (version, new_key())])

    def without(self, version: str) -> KeyRing:
        """This ring minus one KEK, as after removing it from the configuration."""
        return KeyRing([(v, k) for v, k in self._keys.items() if v != version])

    def to_config(self) -> Secret:
        """The CAIRN_VAULT_KEKS value of this ring (a Secret: it is the key material)."""
        text = ",".join(f"{v}:{encode_key(k.reveal())}" for v, k in self._keys.items())
        return Secret.from_text(text)

    @classmethod
    def load_or_create(cls, path: Path) -> KeyRing:
        """For local development: the KEKs in `path`, created with one fresh KEK (mode 0600)
        if missing. Same syntax as CAIRN_VAULT_KEKS, so the file can be copied into it.

        A file readable by group or others is refused, as ssh does with private keys: whoever
        reads it can unwrap every data key.
        """
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            _create_key_file(path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise VaultConfigurationError(
                f"vault key file {path} is readable by others (mode {mode:o}); chmod 600 it"
            )
        return cls.parse(path.read_text(), source=str(path))

    @classmethod
    def from_env(cls, env: Mapping[str, str], dev_key_path: Path | None = None) -> KeyRing:
        """CAIRN_VAULT_KEKS if set; otherwise `dev_key_path` through `load_or_create`."""
        configured = env.get(KEKS_ENV, "")
        if configured.strip():
            return cls.parse(configured)
        if dev_key_path is None:
            raise VaultConfigurationError(f"missing configuration: {KEKS_ENV}")
        return cls.load_or_create(dev_key_path)
