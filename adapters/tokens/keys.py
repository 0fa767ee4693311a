"""Cairn's JWT signing key and the keys it accepts, so keys can rotate without logging anyone out.

One private key signs (Ed25519 -> alg `Ed25519` of RFC 9864, or P-256 -> `ES256`); its public
key and any previous public keys verify. Each key's `kid` is its RFC 7638 thumbprint, so it needs no
configuration and two processes with the same key always agree on it. Rotation: make the new
key the signing key and list the old one under previous keys for at least one access-token
lifetime.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc.jwk import ECKey, OKPKey

from adapters.tokens.errors import SigningKeyError

PRIVATE_KEY_ENV = "CAIRN_JWT_PRIVATE_KEY"
PREVIOUS_KEYS_ENV = "CAIRN_JWT_PREVIOUS_KEYS"
_PEM_BLOCK = re.compile(rb"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)

JoseKey = OKPKey | ECKey


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    alg: str
    key: JoseKey  # public part only


def _as_jose_key(pem: bytes) -> tuple[JoseKey, str]:
    """The joserfc key and its one JWS algorithm; refuses key types Cairn does not sign with."""
    try:
        loaded: object = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        try:
            loaded = serialization.load_pem_public_key(pem)
        except ValueError as exc:
            raise SigningKeyError("not a PEM private or public key") from exc
    if isinstance(loaded, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return OKPKey.import_key(pem), "Ed25519"
    if isinstance(loaded, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(
        loaded.curve, ec.SECP256R1
    ):
        return ECKey.import_key(pem), "ES256"
    raise SigningKeyError("JWT keys must be Ed25519 or EC P-256")


def _public(key: JoseKey) -> JoseKey:
    public_pem = key.as_pem(private=False)
    return (
        OKPKey.import_key(public_pem) if isinstance(key, OKPKey) else ECKey.import_key(public_pem)
    )


def _pem_blocks(text: str | bytes) -> list[bytes]:
    raw = text.encode() if isinstance(text, str) else text
    return _PEM_BLOCK.findall(raw)


class TokenKeys:
    """The signing key plus every key a token may be verified with, by kid."""

    def __init__(self, signing_pem: str | bytes, previous_pems: Sequence[str | bytes] = ()) -> None:
        signing_raw = signing_pem.encode() if isinstance(signing_pem, str) else signing_pem
        key, alg = _as_jose_key(signing_raw)
        if not key.is_private:
            raise SigningKeyError("the JWT signing key must be a private key")
        self.signing_key: JoseKey = key
        self.signing_alg = alg
        self.signing_kid = key.thumbprint()
        verification = {self.signing_kid: VerificationKey(self.signing_kid, alg, _public(key))}
        for pem in previous_pems:
            for block in _pem_blocks(pem):
                old, old_alg = _as_jose_key(block)
                kid = old.thumbprint()
                verification.setdefault(kid, VerificationKey(kid, old_alg, _public(old)))
        self.verification: Mapping[str, VerificationKey] = verification

    @classmethod
    def generate(cls, previous_pems: Sequence[str | bytes] = ()) -> TokenKeys:
        """A fresh Ed25519 key held only in memory (tests, throwaway processes)."""
        return cls(generate_private_pem(), previous_pems)

    @classmethod
    def load_or_create(cls, path: Path, previous_pems: Sequence[str | bytes] = ()) -> TokenKeys:
        """For local development: the key in `path`, created (mode 0600) if missing.

        A key file readable by group or others is refused, as ssh does: anyone who can read
        it can sign tokens for any user.
        """
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made earlier, or by another process just now: read theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(generate_private_pem())
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SigningKeyError(
                f"JWT key file {path} is readable by others (mode {mode:o}); chmod 600 it"
            )
        return cls(path.read_bytes(), previous_pems)

    @classmethod
    def from_env(cls, env: Mapping[str, str], dev_key_path: Path | None = None) -> TokenKeys:
        """`CAIRN_JWT_PRIVATE_KEY` (PEM) and optional `CAIRN_JWT_PREVIOUS_KEYS` (PEM blocks);
        without a configured key, `dev_key_path` through `load_or_create`."""
        previous = [env[PREVIOUS_KEYS_ENV]] if env.get(PREVIOUS_KEYS_ENV) else []
        configured = env.get(PRIVATE_KEY_ENV)
        if configured:
            return cls(configured, previous)
        if dev_key_path is None:
            raise SigningKeyError(f"missing configuration: {PRIVATE_KEY_ENV}")
        return cls.load_or_create(dev_key_path, previous)

    def public_pems(self) -> list[bytes]:
        """Every verification key as PEM: what another deployment lists as previous keys."""
        return [entry.key.as_pem(private=False) for entry in self.verification.values()]


def generate_private_pem() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
