"""Recovery codes: single-use codes that let a person who lost every passkey add a new one.

The codes' Argon2id hashes live in the vault (never in an event: the store is immutable and
an erased person's hashes must go with them). The user aggregate records which set is current
and which of its codes were used, so the store's optimistic concurrency makes a use single:
of two racing uses of one code, one is refused (decision 0022).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import NotAuthenticated

# RFC 4648 base32: no 0/1/8/9, so a code read aloud or copied by hand has no O/0 or I/1 doubt.
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
CODE_LENGTH = 20  # 100 bits
LOOKUP_LENGTH = 8  # the first 8 characters find the code's owner; all 20 are checked
CODES_PER_SET = 10
_SHAPE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


class RecoveryCodeInvalid(NotAuthenticated):
    code = "recovery_code_invalid"


class RecoveryCodeUsed(NotAuthenticated):
    code = "recovery_code_used"


class RecoveryCodeReplaced(NotAuthenticated):
    code = "recovery_code_replaced"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalized(code: str) -> str | None:
    """The code as generated, however it was typed (case, spaces, dashes), or None."""
    plain = re.sub(r"[\s-]", "", code).upper()
    return plain if _SHAPE.match(plain) else None


def shown(code: str) -> str:
    """`ABCDE-FGHIJ-KLMNO-PQRST`: groups of five for reading and typing."""
    return "-".join(code[i : i + 5] for i in range(0, len(code), 5))


def lookup_of(code: str) -> str:
    return hashlib.sha256(f"cairn:recovery-code:{code[:LOOKUP_LENGTH]}".encode()).hexdigest()[:32]


class RecoveryCodeIndex(Aggregate):
    """Finds a code's owner from the hash of its first characters alone (like invitations):
    the person recovering is not signed in and types nothing but the code."""

    @staticmethod
    def create_id(lookup: str, **_: object) -> UUID:
        return uuid5(NAMESPACE_URL, f"cairn:recovery-code:{lookup}")

    @event("RecoveryCodeIndexed")
    def __init__(
        self, lookup: str, tenant_id: UUID, user_id: UUID, generation: str, slot: int
    ) -> None:
        self.lookup = lookup
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.generation = generation
        self.slot = slot
