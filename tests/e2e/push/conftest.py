"""Push tests run against a real API server (uvicorn on a free port) on the real stack."""

from tests.e2e.push.harness import live

__all__ = ["live"]
