"""The passkey relying party: registration, login and plan-bound approval ceremonies.

Each `begin_*` makes a fresh challenge, remembers the ceremony in the challenge store with a
short TTL and returns the options for `navigator.credentials.create()` / `.get()`. Each
`finish_*` first takes the ceremony out of the store (atomically, once), then verifies. The
ceremony is spent even when verification fails: a refused response cannot be retried or
patched up, the client simply begins again. Nothing else is stored here; the caller records
the passkey, its new sign count and the events.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any

from webauthn import generate_authentication_options, generate_registration_options
from webauthn.helpers import options_to_json
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRequestOptions,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from adapters.webauthn.challenges import (
    CeremonyKind,
    ChallengeStore,
    PendingCeremony,
    new_ceremony_id,
)
from adapters.webauthn.checks import (
    APPROVAL_NONCE_BYTES,
    approval_challenge,
    challenge_binds_plan,
    normalised_origins,
    user_handle_of,
)
from adapters.webauthn.errors import CeremonyUnknown, PlanMismatch
from adapters.webauthn.verification import (
    RelyingPartyIdentity,
    verify_assertion,
    verify_registration,
)
from commands.ports.passkeys import (
    CeremonyStart,
    CredentialExists,
    JsonCredential,
    PasskeyLookup,
    RegisteredPasskey,
    VerifiedApproval,
    VerifiedAssertion,
)

DEFAULT_REGISTRATION_TTL_S = 120.0
DEFAULT_AUTHENTICATION_TTL_S = 120.0
# Approving a plan means reading it first: a little longer than a plain login.
DEFAULT_APPROVAL_TTL_S = 300.0
CHALLENGE_BYTES = 32


def _plain_json(
    options: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
) -> dict[str, Any]:
    # Through a JSON string so the result holds plain types only (no enums, no bytes).
    plain: dict[str, Any] = json.loads(options_to_json(options))
    return plain


def _descriptors(credential_ids: list[bytes]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=credential_id) for credential_id in credential_ids]


class PasskeyRelyingParty:
    """Implements `commands.ports.passkeys.PasskeyCeremonies`."""

    def __init__(
        self,
        rp_id: str,
        rp_name: str,
        allowed_origins: list[str],
        challenges: ChallengeStore,
        *,
        registration_ttl_s: float = DEFAULT_REGISTRATION_TTL_S,
        authentication_ttl_s: float = DEFAULT_AUTHENTICATION_TTL_S,
        approval_ttl_s: float = DEFAULT_APPROVAL_TTL_S,
    ) -> None:
        if not rp_name:
            raise ValueError("rp_name must not be empty")
        if min(registration_ttl_s, authentication_ttl_s, approval_ttl_s) <= 0:
            raise ValueError("ceremony TTLs must be positive")
        self.identity = RelyingPartyIdentity(
            rp_id=rp_id, rp_name=rp_name, allowed_origins=normalised_origins(allowed_origins, rp_id)
        )
        self.challenges = challenges
        self.ttl_s = {
            CeremonyKind.REGISTRATION: registration_ttl_s,
            CeremonyKind.AUTHENTICATION: authentication_ttl_s,
            CeremonyKind.APPROVAL: approval_ttl_s,
        }

    def _remember(self, ceremony: PendingCeremony) -> str:
        ceremony_id = new_ceremony_id()
        self.challenges.put(ceremony_id, ceremony, self.ttl_s[ceremony.kind])
        return ceremony_id

    def _take(self, ceremony_id: str, kind: CeremonyKind) -> PendingCeremony:
        ceremony = self.challenges.take(ceremony_id, kind)
        if ceremony is None:
            raise CeremonyUnknown("this passkey ceremony is unknown, expired or already used")
        return ceremony

    def _timeout_ms(self, kind: CeremonyKind) -> int:
        # A hint to the browser: give up when the server will have forgotten the challenge.
        return round(self.ttl_s[kind] * 1000)

    # Registration

    def begin_registration(
        self,
        user_id: str,
        user_name: str,
        display_name: str,
        existing_credential_ids: list[bytes],
    ) -> CeremonyStart:
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        options = generate_registration_options(
            rp_id=self.identity.rp_id,
            rp_name=self.identity.rp_name,
            user_id=user_handle_of(user_id),
            user_name=user_name,
            user_display_name=display_name,
            challenge=challenge,
            timeout=self._timeout_ms(CeremonyKind.REGISTRATION),
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                # Discoverable credentials: a passkey can sign in without a user name.
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            # The authenticator refuses to make a second credential for the same account.
            exclude_credentials=_descriptors(existing_credential_ids),
        )
        ceremony_id = self._remember(
            PendingCeremony(
                kind=CeremonyKind.REGISTRATION,
                challenge=challenge,
                user_id=user_id,
                excluded_credential_ids=tuple(existing_credential_ids),
            )
        )
        return CeremonyStart(ceremony_id, _plain_json(options))

    def finish_registration(
        self,
        ceremony_id: str,
        credential_json: JsonCredential,
        credential_id_exists: CredentialExists,
    ) -> RegisteredPasskey:
        ceremony = self._take(ceremony_id, CeremonyKind.REGISTRATION)
        return verify_registration(self.identity, ceremony, credential_json, credential_id_exists)

    # Authentication (login and step-up)

    def _begin_assertion(
        self,
        kind: CeremonyKind,
        challenge: bytes,
        user_id: str | None,
        allowed_credential_ids: list[bytes],
        plan_hash: bytes | None = None,
    ) -> CeremonyStart:
        options = generate_authentication_options(
            rp_id=self.identity.rp_id,
            challenge=challenge,
            timeout=self._timeout_ms(kind),
            allow_credentials=_descriptors(allowed_credential_ids),
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        ceremony_id = self._remember(
            PendingCeremony(
                kind=kind,
                challenge=challenge,
                user_id=user_id,
                allowed_credential_ids=tuple(allowed_credential_ids),
                plan_hash=plan_hash,
            )
        )
        return CeremonyStart(ceremony_id, _plain_json(options))

    def begin_authentication(
        self, user_id: str | None, allowed_credential_ids: list[bytes]
    ) -> CeremonyStart:
        if user_id is not None:
            user_handle_of(user_id)  # validates the id before anything is stored
        return self._begin_assertion(
            CeremonyKind.AUTHENTICATION,
            secrets.token_bytes(CHALLENGE_BYTES),
            user_id,
            allowed_credential_ids,
        )

    def finish_authentication(
        self, ceremony_id: str, assertion_json: JsonCredential, lookup: PasskeyLookup
    ) -> VerifiedAssertion:
        ceremony = self._take(ceremony_id, CeremonyKind.AUTHENTICATION)
        return verify_assertion(self.identity, ceremony, assertion_json, lookup)

    # Plan-bound approval

    def begin_plan_approval(
        self, user_id: str, plan_hash: bytes, allowed_credential_ids: list[bytes]
    ) -> CeremonyStart:
        user_handle_of(user_id)
        challenge = approval_challenge(plan_hash, secrets.token_bytes(APPROVAL_NONCE_BYTES))
        return self._begin_assertion(
            CeremonyKind.APPROVAL, challenge, user_id, allowed_credential_ids, plan_hash
        )

    def finish_plan_approval(
        self,
        ceremony_id: str,
        assertion_json: JsonCredential,
        expected_plan_hash: bytes,
        lookup: PasskeyLookup,
    ) -> VerifiedApproval:
        ceremony = self._take(ceremony_id, CeremonyKind.APPROVAL)
        plan_hash = ceremony.plan_hash or b""
        if not (
            hmac.compare_digest(plan_hash, expected_plan_hash)
            and challenge_binds_plan(ceremony.challenge, expected_plan_hash)
        ):
            raise PlanMismatch("this approval was started for another plan")
        assertion = verify_assertion(self.identity, ceremony, assertion_json, lookup)
        return VerifiedApproval(
            plan_hash=plan_hash, challenge=ceremony.challenge, assertion=assertion
        )
