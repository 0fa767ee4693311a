"""The people's CLI runs against a real Cairn served over HTTP (tests/e2e/sdk/conftest.py)."""

from tests.e2e.sdk.conftest import live, provider

__all__ = ["live", "provider"]
