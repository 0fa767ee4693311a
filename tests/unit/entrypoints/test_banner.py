"""`cairn up` tells a person where to open the console: by the relying party's host name
(passkeys are bound to it), not by the loopback address the API listens on."""

from __future__ import annotations

import pytest

from entrypoints.stack_commands import console_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_a_loopback_api_is_opened_as_localhost(host: str) -> None:
    assert console_url(host, 8000) == "http://localhost:8000/"


def test_another_host_is_opened_as_it_is_named() -> None:
    assert console_url("cairn.home.arpa", 9000) == "http://cairn.home.arpa:9000/"
