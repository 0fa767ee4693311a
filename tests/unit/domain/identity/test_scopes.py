"""Which scopes a delegated client gets: never autonomy:write by default; MCP never at all."""

from __future__ import annotations

import pytest

from domain.identity.scopes import (
    AUTONOMY_WRITE,
    DelegatedClient,
    InsufficientScope,
    delegated_scopes,
    require_scope,
)

pytestmark = pytest.mark.unit


def test_no_delegated_client_gets_the_autonomy_scope_by_default() -> None:
    for client in DelegatedClient:
        assert AUTONOMY_WRITE not in delegated_scopes(client)


def test_the_cli_may_ask_for_it_and_an_mcp_client_never_gets_it() -> None:
    assert delegated_scopes(DelegatedClient.CLI, [AUTONOMY_WRITE]) == ("api", AUTONOMY_WRITE)
    assert delegated_scopes(DelegatedClient.MCP, [AUTONOMY_WRITE, "admin"]) == ("api",)


def test_a_missing_scope_is_refused_naming_it() -> None:
    require_scope(("api", AUTONOMY_WRITE), AUTONOMY_WRITE)
    with pytest.raises(InsufficientScope) as caught:
        require_scope(("api",), AUTONOMY_WRITE)
    assert caught.value.details == {"required_scope": AUTONOMY_WRITE}
