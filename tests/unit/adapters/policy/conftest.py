"""One engine per module: compiling the schema and the default policies once keeps tests fast."""

from __future__ import annotations

import pytest

from adapters.policy.engine import CedarPolicyEngine


@pytest.fixture(scope="module")
def engine() -> CedarPolicyEngine:
    return CedarPolicyEngine()
