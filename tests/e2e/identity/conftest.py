"""Identity e2e tests use the `cairn` fixture of tests/e2e/conftest.py."""

from tests.support.cairn_client import Cairn, Person

__all__ = ["Cairn", "Person"]
