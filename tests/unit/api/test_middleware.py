"""A request id made here is what `uuid.uuid4().hex` made before (decision 0063)."""

from __future__ import annotations

import re
import uuid

import pytest

from api.middleware import new_request_id

pytestmark = pytest.mark.unit


def test_a_new_request_id_is_a_random_version_4_uuid_in_hex() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for made in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", made)
        parsed = uuid.UUID(hex=made)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert parsed.hex == made
    # Every bit that is not the version's or the variant's varies.
    fixed = ~0
    for made in ids:
        fixed &= ~(int(made, 16) ^ int(ids[0], 16))
    version_and_variant = (0xF << 76) | (0x3 << 62)
    assert fixed & ((1 << 128) - 1) == version_and_variant
