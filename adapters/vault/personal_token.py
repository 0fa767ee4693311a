"""The text form of a sealed personal field: `pii:v1:<subject>:<key id>:<base64url(blob)>`.

Self-describing so that an event can carry it as an ordinary string and replay code can find
and open it without a schema: `v1` is the token format, `<subject>` whose key opens it (the
subject id may itself contain ':'; the last two parts never do), `<key id>` which generation of
that subject's key sealed it (a subject erased and later seen again gets a new key, and tokens
of the erased generation still open as ERASED), and the nonce and ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

from adapters.vault.errors import VaultInvalidInput
from commands.ports.vault import PERSONAL_TOKEN_PREFIX

_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]+$")


class PersonalToken(NamedTuple):
    subject_id: str
    key_id: str
    blob: bytes


def format_token(subject_id: str, key_id: str, blob: bytes) -> str:
    payload = base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")
    return f"{PERSONAL_TOKEN_PREFIX}{subject_id}:{key_id}:{payload}"


def parse_token(token: str) -> PersonalToken:
    """Split a token; raises VaultInvalidInput (without echoing the token) if it is not one."""
    if not isinstance(token, str) or not token.startswith(PERSONAL_TOKEN_PREFIX):
        raise VaultInvalidInput(f"not a personal-field token (expected {PERSONAL_TOKEN_PREFIX}...)")
    parts = token[len(PERSONAL_TOKEN_PREFIX) :].rsplit(":", 2)
    if len(parts) != 3:
        raise VaultInvalidInput("malformed personal-field token")
    subject_id, key_id, payload = parts
    if not subject_id or not _KEY_ID.match(key_id) or not _PAYLOAD.match(payload):
        raise VaultInvalidInput("malformed personal-field token")
    try:
        blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (binascii.Error, ValueError):
        raise VaultInvalidInput("malformed personal-field token") from None
    return PersonalToken(subject_id, key_id, blob)
