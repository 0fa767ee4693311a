"""In-memory ports for command handlers: the library's POPO store for events, dictionaries for
the vault, sessions, login guard and TOTP, the real relying party and access tokens (pure
computation) with a ceremony store in a dictionary. No server, no file, no network."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.policy.engine import CedarPolicyEngine
from adapters.tokens import AccessTokens, TokenKeys
from adapters.tokens.errors import RefreshTokenInvalid, RefreshTokenReused, RevokedFamily
from adapters.vault.errors import VaultSecretNotFound
from adapters.webauthn import PasskeyRelyingParty
from commands.dispatch import Dispatcher, Ports
from commands.identity.context import IdentityApplication, IdentityPorts
from commands.ports.ratelimit import FailedLogin
from commands.ports.sessions import AccessClaims, SessionInfo, TokenPair, TotpEnrolment
from commands.ports.vault import ERASED, Erased, Secret, SecretRef
from commands.runs.policies import RunsApplication
from commands.table import HANDLERS
from domain.errors import NotAuthenticated
from domain.identity.scopes import FIRST_PARTY_SCOPES
from tests.support.authenticator import EXAMPLE_ORIGIN, EXAMPLE_RP_ID, DictChallenges

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
GOOD_TOTP_CODE = "123456"


class Clock:
    """Time that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()


@dataclass(frozen=True)
class _Held:
    value: bytes = field(repr=False)

    def open(self) -> bytes:
        return self.value


class MemoryVault:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], bytes] = {}
        self.personal: dict[str, tuple[str, str, str, str]] = {}
        self.erased: set[tuple[str, str]] = set()

    def put_secret(self, tenant: str, record_id: str, plaintext: bytes | Secret) -> SecretRef:
        raw = plaintext.reveal() if isinstance(plaintext, Secret) else bytes(plaintext)
        self.secrets[(tenant, record_id)] = raw
        return SecretRef(tenant, record_id, 1)

    def get_secret(self, tenant: str, record_id: str) -> bytes:
        try:
            return self.secrets[(tenant, record_id)]
        except KeyError:
            raise VaultSecretNotFound("no such secret", {"record_id": record_id}) from None

    def delete_secret(self, tenant: str, record_id: str) -> bool:
        return self.secrets.pop((tenant, record_id), None) is not None

    def secret_ids(self, tenant: str, prefix: str) -> frozenset[str]:
        return frozenset(r for t, r in self.secrets if t == tenant and r.startswith(prefix))

    def sealed_secrets(self, tenant: str, prefix: str) -> dict[str, _Held]:
        return {
            r: _Held(v)
            for (t, r), v in self.secrets.items()
            if t == tenant and r.startswith(prefix)
        }

    def seal_personal(self, tenant: str, subject_id: str, field: str, value: str) -> str:
        token = f"pii:v1:{subject_id}:{secrets.token_hex(8)}:{len(self.personal)}"
        self.personal[token] = (tenant, subject_id, field, value)
        return token

    def open_personal(self, tenant: str, token: str, field: str) -> str | Erased:
        owner, subject, sealed_field, value = self.personal[token]
        assert (owner, sealed_field) == (tenant, field), "opened in another tenant or field"
        return ERASED if (tenant, subject) in self.erased else value

    def erase_subject(self, tenant: str, subject_id: str) -> bool:
        known = (tenant, subject_id) not in self.erased
        self.erased.add((tenant, subject_id))
        return known


@dataclass
class _Session:
    tenant: str
    user_id: str
    device_id: str
    family_id: str
    auth_time: int
    revoked: str | None = None
    refresh_tokens: list[str] = field(default_factory=list)
    scopes: tuple[str, ...] = FIRST_PARTY_SCOPES


class MemorySessions:
    def __init__(self, tokens: AccessTokens, clock: Clock) -> None:
        self.tokens = tokens
        self.clock = clock
        self.sessions: dict[str, _Session] = {}
        self.spent: set[str] = set()

    def _pair(self, session_id: str) -> TokenPair:
        session = self.sessions[session_id]
        refresh = secrets.token_urlsafe(24)
        session.refresh_tokens.append(refresh)
        access = self.tokens.issue(
            tenant=session.tenant,
            user_id=session.user_id,
            session_id=session_id,
            device_id=session.device_id,
            auth_time=session.auth_time,
            scopes=session.scopes,
        )
        return TokenPair(access, refresh, session_id)

    def create_session(
        self,
        tenant: str,
        user_id: str,
        device_id: str,
        scopes: tuple[str, ...] = FIRST_PARTY_SCOPES,
    ) -> TokenPair:
        session_id = uuid.uuid4().hex
        now = int(self.clock.seconds())
        self.sessions[session_id] = _Session(
            tenant, user_id, device_id, session_id, now, scopes=scopes
        )
        return self._pair(session_id)

    def refresh(self, refresh_token: str) -> TokenPair:
        for session_id, session in self.sessions.items():
            if refresh_token not in session.refresh_tokens:
                continue
            if refresh_token in self.spent or session.revoked:
                family = [s for s, x in self.sessions.items() if x.family_id == session.family_id]
                for other in family:
                    self.sessions[other].revoked = "refresh_token_reused"
                raise RefreshTokenReused(
                    RevokedFamily(
                        session.tenant,
                        session.user_id,
                        session.device_id,
                        session.family_id,
                        tuple(family),
                    )
                )
            self.spent.add(refresh_token)
            return self._pair(session_id)
        raise RefreshTokenInvalid("the refresh token is not valid, expired or revoked")

    def check_session_active(self, claims: AccessClaims) -> None:
        session = self.sessions.get(claims.session_id)
        if session is None or session.revoked:
            raise NotAuthenticated("session revoked")

    def step_up(self, claims: AccessClaims) -> str:
        session = self.sessions[claims.session_id]
        session.auth_time = int(self.clock.seconds())
        return self._pair(claims.session_id).access_token

    def revoke_session(self, tenant: str, session_id: str, reason: str = "logout") -> bool:
        session = self.sessions.get(session_id)
        if session is None or session.tenant != tenant or session.revoked:
            return False
        session.revoked = reason
        return True

    def _revoke(self, tenant: str, reason: str, **match: str) -> list[str]:
        ended = []
        for session_id, session in self.sessions.items():
            mine = all(getattr(session, k) == v for k, v in match.items())
            if session.tenant == tenant and not session.revoked and mine:
                session.revoked = reason
                ended.append(session_id)
        return sorted(ended)

    def revoke_device(
        self, tenant: str, device_id: str, reason: str = "device_revoked"
    ) -> list[str]:
        return self._revoke(tenant, reason, device_id=device_id)

    def revoke_user(self, tenant: str, user_id: str, reason: str = "user_revoked") -> list[str]:
        return self._revoke(tenant, reason, user_id=user_id)

    def list_sessions(
        self, tenant: str, user_id: str, include_revoked: bool = False
    ) -> list[SessionInfo]:
        raise NotImplementedError


class MemoryLoginGuard:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.successes: list[str] = []

    def check(self, account: str | None, address: str) -> None:
        return None

    def record_failure(self, account: str | None, address: str) -> FailedLogin:
        self.failures.append(address)
        return FailedLogin(0, len(self.failures), 0.0, 0.0)

    def record_success(self, account: str) -> None:
        self.successes.append(account)


class MemoryTotp:
    def enrol(self, account_name: str) -> TotpEnrolment:
        return TotpEnrolment("JBSWY3DPEHPK3PXP", f"otpauth://totp/Cairn:{account_name}")

    def verify(self, tenant: str, user_id: str, secret: str, code: str) -> None:
        if code != GOOD_TOTP_CODE:
            raise NotAuthenticated("wrong code")


@dataclass
class InMemory:
    """The dispatch with every port in memory, and handles on the fakes behind it."""

    clock: Clock
    vault: MemoryVault
    sessions: MemorySessions
    tokens: AccessTokens
    login_guard: MemoryLoginGuard
    ports: Ports
    dispatcher: Dispatcher

    @classmethod
    def build(cls) -> InMemory:
        clock = Clock()
        tokens = AccessTokens(TokenKeys.generate(), clock=clock.seconds)
        vault = MemoryVault()
        sessions = MemorySessions(tokens, clock)
        guard = MemoryLoginGuard()
        identity = IdentityPorts(
            app=IdentityApplication(env=POPO),
            vault=vault,
            passkeys=PasskeyRelyingParty(
                EXAMPLE_RP_ID, "Cairn", [EXAMPLE_ORIGIN], DictChallenges()
            ),
            sessions=sessions,
            tokens=tokens,
            login_guard=guard,
            totp=MemoryTotp(),
            clock=clock,
        )
        ports = Ports(identity, RunsApplication(env=POPO), CedarPolicyEngine())
        return cls(clock, vault, sessions, tokens, guard, ports, Dispatcher(ports, HANDLERS))
