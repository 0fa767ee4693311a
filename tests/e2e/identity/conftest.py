"""Identity e2e tests use the `cairn` fixture of tests/e2e/conftest.py."""

from tests.support.in_process import Cairn, Person

__all__ = ["Cairn", "Person"]
