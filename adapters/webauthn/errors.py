"""Why a passkey ceremony was refused, each with a stable code.

Every refused response is a NotAuthenticated (401): the person must start the ceremony again.
Messages and details reach the caller, who may be an attacker replaying a captured response,
so they name the check that failed and nothing about stored credentials or other users.
"""

from __future__ import annotations

from commands.ports.passkeys import POSSIBLE_CLONED_AUTHENTICATOR, ClonedAuthenticatorSuspicion
from domain.errors import Conflict, NotAuthenticated, Unavailable


class PasskeyRefused(NotAuthenticated):
    """Base of every refused passkey response."""

    code = "passkey_refused"


class CeremonyUnknown(PasskeyRefused):
    """No live ceremony of this kind with this id: never started, expired, or already used.

    The three are indistinguishable on purpose: the record is deleted on first use and by TTL.
    """

    code = "passkey_ceremony_unknown"


class ResponseMalformed(PasskeyRefused):
    code = "passkey_response_malformed"


class WrongClientDataType(PasskeyRefused):
    """A `webauthn.get` response sent to registration, or `webauthn.create` to a login."""

    code = "passkey_wrong_client_data_type"


class ChallengeMismatch(PasskeyRefused):
    """The response signs another challenge: a response captured from another ceremony."""

    code = "passkey_challenge_mismatch"


class OriginNotAllowed(PasskeyRefused):
    code = "passkey_origin_not_allowed"


class RpIdMismatch(PasskeyRefused):
    """The authenticator data carries the hash of another relying party id."""

    code = "passkey_rp_id_mismatch"


class UserNotPresent(PasskeyRefused):
    code = "passkey_user_not_present"


class UserNotVerified(PasskeyRefused):
    """User verification (PIN, biometrics) is required on every ceremony."""

    code = "passkey_user_not_verified"


class CredentialUnknown(PasskeyRefused):
    code = "passkey_credential_unknown"


class CredentialNotBound(PasskeyRefused):
    """The credential exists but belongs to someone else than the ceremony or user handle."""

    code = "passkey_credential_not_bound"


class SignatureInvalid(PasskeyRefused):
    code = "passkey_signature_invalid"


class AttestationInvalid(PasskeyRefused):
    """py_webauthn refused the registration response for a reason not checked before."""

    code = "passkey_attestation_invalid"


class PlanMismatch(PasskeyRefused):
    """The approval ceremony was started for another plan than the one being approved."""

    code = "passkey_plan_mismatch"


class SignCountRegressed(PasskeyRefused):
    """The signature is valid but the counter did not increase: possibly a cloned key.

    `details.flag` tells the caller to record a security event; `suspicion` says what to record
    (kept out of `details`, which is sent to the caller).
    """

    code = "passkey_sign_count_regressed"

    def __init__(self, suspicion: ClonedAuthenticatorSuspicion) -> None:
        super().__init__(
            "the authenticator's sign counter did not increase; this passkey may be cloned",
            {"flag": POSSIBLE_CLONED_AUTHENTICATOR},
        )
        self.suspicion = suspicion


class PasskeyAlreadyRegistered(Conflict):
    """The credential id is already registered (to this or any other user)."""

    code = "passkey_already_registered"

    def __init__(self) -> None:
        super().__init__("this passkey is already registered")


class ChallengeStoreUnavailable(Unavailable):
    """Redis is down: no ceremony can start or finish (fail closed, never accept)."""

    code = "passkey_challenges_unavailable"

    def __init__(self) -> None:
        super().__init__("passkey sign-in is unavailable; retry shortly")
