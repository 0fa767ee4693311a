from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jws import JWSRegistry

from adapters.tokens import (
    AccessTokens,
    SigningKeyError,
    StepUpRequired,
    TokenExpired,
    TokenInvalid,
    TokenKeys,
)

pytestmark = pytest.mark.unit

T0 = 1_800_000_000


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _issue(tokens: AccessTokens, auth_time: int = T0) -> str:
    return tokens.issue(
        tenant="tenant-a",
        user_id="user-1",
        session_id="sess-1",
        device_id="dev-1",
        auth_time=auth_time,
    )


def _good_claims(now: int = T0) -> dict[str, Any]:
    return {
        "iss": "cairn",
        "aud": "cairn-api",
        "sub": "user-1",
        "tid": "tenant-a",
        "sid": "sess-1",
        "did": "dev-1",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
        "auth_time": now,
    }


def _sign_with(keys: TokenKeys, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Signed with `keys`' signing key but with a header and claims of the test's choosing."""
    registry = JWSRegistry(algorithms=["Ed25519", "ES256"])
    return jwt.encode(header, claims, keys.signing_key, registry=registry, default_type=None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys() -> TokenKeys:
    return TokenKeys.generate()


@pytest.fixture
def tokens(keys: TokenKeys, clock: Clock) -> AccessTokens:
    return AccessTokens(keys, clock=clock)


def test_round_trip_carries_every_claim(tokens: AccessTokens, keys: TokenKeys) -> None:
    token = _issue(tokens, auth_time=T0 - 30)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"typ": "at+jwt", "alg": "Ed25519", "kid": keys.signing_kid}
    claims = tokens.verify_access_token(token)
    assert (claims.tenant, claims.user_id, claims.session_id, claims.device_id) == (
        "tenant-a",
        "user-1",
        "sess-1",
        "dev-1",
    )
    assert (claims.issuer, claims.audience) == ("cairn", "cairn-api")
    assert (claims.issued_at, claims.expires_at, claims.auth_time) == (T0, T0 + 600, T0 - 30)
    assert claims.token_id != tokens.verify_access_token(_issue(tokens)).token_id


def test_expiry_boundary(tokens: AccessTokens, clock: Clock) -> None:
    token = _issue(tokens)
    clock.now = T0 + 600 + tokens.leeway_s - 1
    tokens.verify_access_token(token)
    clock.now = T0 + 600 + tokens.leeway_s
    with pytest.raises(TokenExpired) as caught:
        tokens.verify_access_token(token)
    assert caught.value.code == "token_expired"


def test_issued_in_the_future_is_refused(tokens: AccessTokens, clock: Clock) -> None:
    token = _issue(tokens)
    clock.now = T0 - tokens.leeway_s - 1
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(token)


@pytest.mark.parametrize("part", [0, 1, 2])
def test_any_tampered_part_is_refused(tokens: AccessTokens, part: int) -> None:
    pieces = _issue(tokens).split(".")
    if part == 1:
        claims = json.loads(base64.urlsafe_b64decode(pieces[1] + "=="))
        claims["sub"] = "admin"
        pieces[1] = _b64(json.dumps(claims).encode())
    else:
        raw = bytearray(base64.urlsafe_b64decode(pieces[part] + "=="))
        raw[len(raw) // 2] ^= 1
        pieces[part] = _b64(bytes(raw))
    with pytest.raises(TokenInvalid) as caught:
        tokens.verify_access_token(".".join(pieces))
    assert caught.value.code == "token_invalid"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b.c.d.e", "é.é.é"])
def test_garbage_is_refused(tokens: AccessTokens, garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(garbage)


def test_token_of_another_key_is_refused(tokens: AccessTokens, keys: TokenKeys) -> None:
    stranger = TokenKeys.generate()
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(_issue(AccessTokens(stranger, clock=tokens.clock)))
    # Claiming our kid does not help: the signature is checked with our key.
    forged = _sign_with(
        stranger, {"alg": "Ed25519", "kid": keys.signing_kid, "typ": "at+jwt"}, _good_claims()
    )
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(forged)


def test_alg_none_is_refused(tokens: AccessTokens, keys: TokenKeys) -> None:
    header = {"alg": "none", "kid": keys.signing_kid, "typ": "at+jwt"}
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_good_claims()).encode())}."
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(token)


def test_hmac_with_the_public_key_as_secret_is_refused(
    tokens: AccessTokens, keys: TokenKeys
) -> None:
    public_pem = keys.public_pems()[0]
    header = {"alg": "HS256", "kid": keys.signing_kid, "typ": "at+jwt"}
    signing_input = (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_good_claims()).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(f"{signing_input}.{_b64(signature)}")


def test_alg_other_than_the_keys_own_is_refused(tokens: AccessTokens, keys: TokenKeys) -> None:
    header = {"alg": "ES256", "kid": keys.signing_kid, "typ": "at+jwt"}
    signing_input = (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_good_claims()).encode())}"
    )
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(f"{signing_input}.{_b64(b'x' * 64)}")


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "Ed25519", "typ": "at+jwt"},  # no kid
        {"alg": "Ed25519", "kid": "nobody", "typ": "at+jwt"},
        {"alg": "Ed25519", "kid": "KID", "typ": "JWT"},  # another kind of JWT of ours
        {"alg": "Ed25519", "kid": "KID"},
    ],
)
def test_header_must_name_our_key_and_type(
    tokens: AccessTokens, keys: TokenKeys, header: dict[str, Any]
) -> None:
    header = {k: keys.signing_kid if v == "KID" else v for k, v in header.items()}
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(_sign_with(keys, header, _good_claims()))


@pytest.mark.parametrize(
    "change",
    [
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"aud": ["another-api"]},
        {"sid": ""},
        {"tid": 7},
        {"tid": "tenant-a\x00"},  # database values: storable text only
        {"sub": "\x00"},
        {"auth_time": "yesterday"},
        {"exp": float("nan")},
        {"exp": True},
        {"did": None},
    ],
)
def test_claims_are_checked(tokens: AccessTokens, keys: TokenKeys, change: dict[str, Any]) -> None:
    header = {"alg": "Ed25519", "kid": keys.signing_kid, "typ": "at+jwt"}
    claims = {**_good_claims(), **change}
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(_sign_with(keys, header, claims))


@pytest.mark.parametrize(
    "missing", ["iss", "aud", "sub", "tid", "sid", "did", "iat", "exp", "jti", "auth_time"]
)
def test_every_claim_is_required(tokens: AccessTokens, keys: TokenKeys, missing: str) -> None:
    header = {"alg": "Ed25519", "kid": keys.signing_kid, "typ": "at+jwt"}
    claims = _good_claims()
    del claims[missing]
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(_sign_with(keys, header, claims))


def test_rotation_accepts_previous_keys_only_when_listed(clock: Clock) -> None:
    old, new_pem = TokenKeys.generate(), TokenKeys.generate()
    old_token = _issue(AccessTokens(old, clock=clock))
    rotated = AccessTokens(TokenKeys(_private_pem(new_pem), old.public_pems()), clock=clock)
    assert rotated.verify_access_token(old_token).user_id == "user-1"
    assert rotated.verify_access_token(_issue(rotated)).user_id == "user-1"
    not_listed = AccessTokens(TokenKeys(_private_pem(new_pem)), clock=clock)
    with pytest.raises(TokenInvalid):
        not_listed.verify_access_token(old_token)


def _private_pem(keys: TokenKeys) -> bytes:
    return keys.signing_key.as_pem(private=True)


def test_es256_keys_work_and_kid_is_stable(clock: Clock) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    first, again = TokenKeys(pem), TokenKeys(pem.decode())
    assert first.signing_alg == "ES256" and first.signing_kid == again.signing_kid
    tokens = AccessTokens(first, clock=clock)
    assert AccessTokens(again, clock=clock).verify_access_token(_issue(tokens)).tenant == "tenant-a"


def test_unsuitable_keys_are_refused() -> None:
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for bad in (rsa_pem, p384, b"not a key", TokenKeys.generate().public_pems()[0]):
        with pytest.raises(SigningKeyError):
            TokenKeys(bad)


def test_from_env_needs_a_key_or_a_dev_path() -> None:
    with pytest.raises(SigningKeyError, match="CAIRN_JWT_PRIVATE_KEY"):
        TokenKeys.from_env({})
    pem = _private_pem(TokenKeys.generate()).decode()
    previous = TokenKeys.generate()
    keys = TokenKeys.from_env(
        {
            "CAIRN_JWT_PRIVATE_KEY": pem,
            "CAIRN_JWT_PREVIOUS_KEYS": b"\n".join(previous.public_pems()).decode(),
        }
    )
    assert set(keys.verification) == {keys.signing_kid, previous.signing_kid}


def test_freshness_for_step_up(tokens: AccessTokens, clock: Clock) -> None:
    claims = tokens.verify_access_token(_issue(tokens, auth_time=T0 - 300))
    assert tokens.is_fresh(claims)
    tokens.require_fresh(claims)
    assert not tokens.is_fresh(claims, max_age_s=299)
    clock.now = T0 + 1
    assert not tokens.is_fresh(claims)
    with pytest.raises(StepUpRequired) as caught:
        tokens.require_fresh(claims)
    assert caught.value.code == "step_up_required"
    assert caught.value.details == {"max_age_s": 300}


def test_a_token_verified_before_is_checked_for_time_again(
    tokens: AccessTokens, clock: Clock
) -> None:
    token = _issue(tokens)
    assert tokens.verify_access_token(token).user_id  # verified once, then remembered
    clock.now = T0 - tokens.leeway_s - 1
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(token)
    clock.now = T0 + 600 + tokens.leeway_s
    with pytest.raises(TokenExpired):
        tokens.verify_access_token(token)
    clock.now = T0 + 1
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(tampered)  # another text: verified on its own


def test_scopes_round_trip_and_a_token_without_them_holds_none(
    tokens: AccessTokens, keys: TokenKeys
) -> None:
    delegated = tokens.issue(
        tenant="tenant-a",
        user_id="user-1",
        session_id="sess-1",
        device_id="dev-1",
        auth_time=T0,
        scopes=("api",),
    )
    assert tokens.verify_access_token(delegated).scopes == ("api",)
    assert tokens.verify_access_token(_issue(tokens)).scopes == ("api", "autonomy:write")
    header = {"typ": "at+jwt", "alg": keys.signing_alg, "kid": keys.signing_kid}
    # Issued before scopes existed: nothing that needs a scope is allowed with it.
    assert tokens.verify_access_token(_sign_with(keys, header, _good_claims())).scopes == ()
    with pytest.raises(TokenInvalid):
        tokens.verify_access_token(_sign_with(keys, header, {**_good_claims(), "scope": ["api"]}))
