"""What one leaf of the audit log commits to: a small canonical envelope per stored message.

``cairn.audit.leaf/1\\n<stream seq>\\n<subject>\\n<message id>\\n<tenant seq>\\n<hex SHA-256 of
the stored data>\\n``. The data is committed to by its hash only, and never the NATS headers: a
server may rewrite headers when it stores them (message tracing turns `traceparent` into
`Xraceparent`), and the data of a crypto-shredded person holds only sealed tokens, so their
events keep verifying after erasure. The tenant sequence (the message's rank among its
tenant's messages, internal messages counting under ``_``) lets a one-tenant export show a
removed event even where the other tenants' leaves are given only as hashes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from domain.audit.merkle import leaf_hash

SYSTEM_TENANT = "_"
SEALED_MARK = b"pii:v1:"  # the prefix of a sealed personal field (see docs/vault.md)
_sha256 = hashlib.sha256


def tenant_of(subject: str) -> str:
    """The tenant token of an event subject ``<prefix>.<tenant>.<type>.<id>``; internal
    subjects (three tokens: markers, tracking records, checkpoints) belong to ``_``."""
    tokens = subject.split(".")
    return tokens[1] if len(tokens) == 4 else SYSTEM_TENANT


def envelope(seq: int, subject: str, msg_id: str, tenant_seq: int, data_digest: bytes) -> bytes:
    return b"cairn.audit.leaf/1\n%d\n%s\n%s\n%d\n%s\n" % (
        seq,
        subject.encode(),
        msg_id.encode(),
        tenant_seq,
        data_digest.hex().encode(),
    )


def message_leaf(seq: int, subject: str, msg_id: str, tenant_seq: int, data: bytes) -> bytes:
    """The leaf hash of one stored message."""
    return leaf_hash(envelope(seq, subject, msg_id, tenant_seq, _sha256(data).digest()))


def is_sealed(data: bytes) -> bool:
    """Whether the event's data holds sealed personal fields (shown as such, never opened)."""
    return SEALED_MARK in data


class TenantSequences:
    """Counts each tenant's messages in stream order (the envelope's tenant sequence)."""

    def __init__(self) -> None:
        self.counts: defaultdict[str, int] = defaultdict(int)

    def next(self, subject: str) -> int:
        tenant = tenant_of(subject)
        self.counts[tenant] += 1
        return self.counts[tenant]
