"""Which OAuth providers Cairn connects to, from configuration (CAIRN_OAUTH_PROVIDERS).

Each provider has a shape ("google" or "microsoft") that gives the endpoints and the
authorization parameters that provider needs; configuration may override every endpoint
(the tests point them at a local authorization server: the code path is the same). The
client secret comes from CAIRN_OAUTH_<NAME>_CLIENT_SECRET (or the provider's entry) and is
only ever held as a `Secret`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from commands.ports.vault import Secret

_SHAPES: dict[str, dict[str, object]] = {
    "google": {
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
        "issuer": "https://accounts.google.com",
        "sends_iss": True,
        # offline: a refresh token; include_granted_scopes: incremental authorization.
        "extra": {"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"},
        "scopes": ["openid", "email"],
    },
    "microsoft": {
        "authorization_endpoint": (
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
        ),
        "token_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "revocation_endpoint": "",  # Microsoft has no RFC 7009 endpoint
        "issuer": "",
        "sends_iss": False,
        "extra": {"prompt": "select_account"},
        "scopes": ["openid", "email", "offline_access"],
    },
}
SHAPES = frozenset(_SHAPES)


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    shape: str
    client_id: str
    client_secret: Secret = field(repr=False)
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str
    issuer: str
    sends_iss: bool
    base_scopes: tuple[str, ...]
    extra: Mapping[str, str]
    # Sent with every token request too (an MCP server's `resource`, RFC 8707).
    token_params: Mapping[str, str] = field(default_factory=dict)


def provider_configs(
    entries: Mapping[str, Mapping[str, object]], env: Mapping[str, str]
) -> dict[str, ProviderConfig]:
    """The configured providers; an entry without a known shape or client id is an error."""
    configs: dict[str, ProviderConfig] = {}
    for name, entry in entries.items():
        shape = str(entry.get("shape", name))
        if shape not in _SHAPES:
            raise ValueError(f"OAuth provider {name!r}: shape must be one of {sorted(SHAPES)}")
        base = {**_SHAPES[shape], **entry}
        client_id = str(base.get("client_id") or "")
        if not client_id:
            raise ValueError(f"OAuth provider {name!r} needs a client_id")
        secret = env.get(f"CAIRN_OAUTH_{name.upper()}_CLIENT_SECRET") or base.get("client_secret")
        extra = base.get("extra")
        scopes = base.get("scopes")
        if shape == "microsoft" and isinstance(scopes, list) and "offline_access" not in scopes:
            # Without it Microsoft issues no refresh token: the connection would die at the
            # first expiry (an hour).
            scopes = [*scopes, "offline_access"]
        configs[name] = ProviderConfig(
            name=name,
            shape=shape,
            client_id=client_id,
            client_secret=Secret.from_text(str(secret or "")),
            authorization_endpoint=str(base["authorization_endpoint"]),
            token_endpoint=str(base["token_endpoint"]),
            revocation_endpoint=str(base.get("revocation_endpoint") or ""),
            issuer=str(base.get("issuer") or ""),
            sends_iss=bool(base.get("sends_iss")),
            base_scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
            extra={str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
        )
    return configs
