from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tokens import RefreshTokenInvalid
from adapters.tokens.refresh_token import hash_of, new_refresh_token, tenant_of

pytestmark = pytest.mark.unit


@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=100))
def test_tenant_round_trips(tenant: str) -> None:
    assert tenant_of(new_refresh_token(tenant)) == tenant


@pytest.mark.parametrize("tenant", ["\x00", "acme\x00", "a\x00b"])
def test_a_tenant_no_database_can_take_is_refused(tenant: str) -> None:
    # The tenant is a database value (of the transaction) before the token's hash is checked.
    with pytest.raises(RefreshTokenInvalid):
        tenant_of(new_refresh_token(tenant))


def test_tokens_are_unique_and_hashed() -> None:
    first, second = new_refresh_token("t"), new_refresh_token("t")
    assert first != second and hash_of(first) != hash_of(second)
    assert len(hash_of(first)) == 32


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "crt1",
        "crt1..x",
        "crt2.dA.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "crt1.dA.short",
        "crt1.dA.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.extra",
        "crt1.%%%%.x" + "x" * 42,
        "crt1." + "dA" * 300 + ".xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ],
)
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(RefreshTokenInvalid) as caught:
        tenant_of(bad)
    assert caught.value.code == "refresh_token_invalid"
