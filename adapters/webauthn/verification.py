"""Verify a registration or assertion response against a ceremony that was already taken.

No I/O of its own (the caller's callbacks aside), so every check can be tested without Redis.
Order matters in one place: the sign counter is compared only after the signature verified,
so a forged response can never raise the "possibly cloned" flag against someone's passkey.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import (
    bytes_to_base64url,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationFormat,
    AuthenticationCredential,
    AuthenticatorData,
    ClientDataType,
    CollectedClientData,
    RegistrationCredential,
)

from adapters.webauthn.challenges import PendingCeremony
from adapters.webauthn.checks import (
    MAX_CREDENTIAL_ID_BYTES,
    check_authenticator_data,
    check_client_data,
    rp_id_hash,
    sign_count_acceptable,
    user_handle_of,
)
from adapters.webauthn.errors import (
    AttestationInvalid,
    CredentialNotBound,
    CredentialUnknown,
    PasskeyAlreadyRegistered,
    ResponseMalformed,
    SignatureInvalid,
    SignCountRegressed,
)
from commands.ports.passkeys import (
    AssertionEvidence,
    ClonedAuthenticatorSuspicion,
    CredentialExists,
    JsonCredential,
    PasskeyLookup,
    RegisteredPasskey,
    VerifiedAssertion,
)

# What parsing attacker-supplied bytes can raise (binascii and CBOR errors are ValueErrors).
_PARSE_ERRORS = (WebAuthnException, ValueError, TypeError, KeyError, IndexError)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RelyingPartyIdentity:
    rp_id: str
    rp_name: str
    allowed_origins: frozenset[str]

    @property
    def rp_id_hash(self) -> bytes:
        return rp_id_hash(self.rp_id)


def _parsed(parse: Callable[[], _T], what: str) -> _T:
    try:
        return parse()
    except _PARSE_ERRORS as exc:
        raise ResponseMalformed(f"the {what} could not be parsed") from exc


def _check_ids(credential_id: str, raw_id: bytes) -> None:
    if bytes_to_base64url(raw_id) != credential_id:
        raise ResponseMalformed("id and rawId differ")
    if not raw_id or len(raw_id) > MAX_CREDENTIAL_ID_BYTES:
        raise ResponseMalformed("the credential id is empty or too long")


def _client_data(raw: bytes) -> CollectedClientData:
    return _parsed(lambda: parse_client_data_json(raw), "client data")


def verify_registration(
    rp: RelyingPartyIdentity,
    ceremony: PendingCeremony,
    credential_json: JsonCredential,
    credential_id_exists: CredentialExists,
) -> RegisteredPasskey:
    if ceremony.user_id is None:
        raise ValueError("a registration ceremony always names its user")
    credential: RegistrationCredential = _parsed(
        lambda: parse_registration_credential_json(_as_parseable(credential_json)), "credential"
    )
    _check_ids(credential.id, credential.raw_id)
    check_client_data(
        _client_data(credential.response.client_data_json),
        expected_type=ClientDataType.WEBAUTHN_CREATE,
        expected_challenge=ceremony.challenge,
        allowed_origins=rp.allowed_origins,
    )
    attestation = _parsed(
        lambda: parse_attestation_object(credential.response.attestation_object),
        "attestation object",
    )
    check_authenticator_data(attestation.auth_data, expected_rp_id_hash=rp.rp_id_hash)
    attested = attestation.auth_data.attested_credential_data
    if attested is None or attested.credential_id != credential.raw_id:
        raise ResponseMalformed("the attested credential id is missing or differs from rawId")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=sorted(rp.allowed_origins),
            require_user_presence=True,
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise AttestationInvalid("the registration response could not be verified") from exc
    # Checked last, so only a complete and valid response for this very ceremony can probe
    # whether a credential id is taken.
    if verified.credential_id in ceremony.excluded_credential_ids or credential_id_exists(
        verified.credential_id
    ):
        raise PasskeyAlreadyRegistered()
    transports = credential.response.transports or []
    return RegisteredPasskey(
        credential_id=verified.credential_id,
        user_id=ceremony.user_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        backup_eligible=attestation.auth_data.flags.be,
        backed_up=verified.credential_backed_up,
        transports=tuple(transport.value for transport in transports),
        attestation_format=AttestationFormat(verified.fmt).value,  # a str at runtime
    )


def _check_binding(
    ceremony: PendingCeremony, credential: AuthenticationCredential, lookup: PasskeyLookup
) -> tuple[str, bytes, int]:
    """Return (user id, public key, stored sign count) of a credential the ceremony may use."""
    raw_id = credential.raw_id
    stored = lookup(raw_id)
    if stored is None or stored.credential_id != raw_id:
        raise CredentialUnknown("this passkey is not registered")
    if ceremony.allowed_credential_ids and raw_id not in ceremony.allowed_credential_ids:
        raise CredentialNotBound("this passkey was not offered for this ceremony")
    if ceremony.user_id is not None and stored.user_id != ceremony.user_id:
        raise CredentialNotBound("this passkey belongs to another account")
    user_handle = credential.response.user_handle
    if user_handle is None and ceremony.user_id is None:
        # A discoverable login names its user only through the handle: it cannot be missing.
        raise CredentialNotBound("the response does not name its user")
    if user_handle is not None and user_handle != user_handle_of(stored.user_id):
        raise CredentialNotBound("the user handle does not match this passkey's account")
    return stored.user_id, stored.public_key, stored.sign_count


def verify_assertion(
    rp: RelyingPartyIdentity,
    ceremony: PendingCeremony,
    assertion_json: JsonCredential,
    lookup: PasskeyLookup,
) -> VerifiedAssertion:
    credential: AuthenticationCredential = _parsed(
        lambda: parse_authentication_credential_json(_as_parseable(assertion_json)), "assertion"
    )
    _check_ids(credential.id, credential.raw_id)
    response = credential.response
    client_data = _client_data(response.client_data_json)
    check_client_data(
        client_data,
        expected_type=ClientDataType.WEBAUTHN_GET,
        expected_challenge=ceremony.challenge,
        allowed_origins=rp.allowed_origins,
    )
    auth_data: AuthenticatorData = _parsed(
        lambda: parse_authenticator_data(response.authenticator_data), "authenticator data"
    )
    check_authenticator_data(auth_data, expected_rp_id_hash=rp.rp_id_hash)
    user_id, public_key, stored_count = _check_binding(ceremony, credential, lookup)
    try:
        # Counter 0 switches py_webauthn's counter check off: it is made below, after the
        # signature is known to be good, so that it can be flagged instead of just refused.
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=sorted(rp.allowed_origins),
            credential_public_key=public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise SignatureInvalid("the assertion signature could not be verified") from exc
    if not sign_count_acceptable(stored_count, verified.new_sign_count):
        raise SignCountRegressed(
            ClonedAuthenticatorSuspicion(
                credential_id=credential.raw_id,
                user_id=user_id,
                stored_sign_count=stored_count,
                presented_sign_count=verified.new_sign_count,
            )
        )
    return VerifiedAssertion(
        credential_id=credential.raw_id,
        user_id=user_id,
        new_sign_count=verified.new_sign_count,
        user_verified=verified.user_verified,
        backup_eligible=auth_data.flags.be,
        backed_up=verified.credential_backed_up,
        origin=client_data.origin,
        evidence=AssertionEvidence(
            client_data_json=response.client_data_json,
            authenticator_data=response.authenticator_data,
            signature=response.signature,
            user_handle=response.user_handle,
        ),
    )


def _as_parseable(credential_json: JsonCredential) -> str | dict[str, object]:
    # py_webauthn accepts a str or a dict; a read-only Mapping from the API is copied.
    return credential_json if isinstance(credential_json, str) else dict(credential_json)
