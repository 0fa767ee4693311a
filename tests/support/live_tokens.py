"""The access tokens the test OAuth server considers valid now, as the token set a fake
provider API (tests/support/fake_provider_api.py) checks bearer tokens against: the fake
accepts exactly what the authorization server issued and has not revoked or expired."""

from __future__ import annotations

from tests.support.oauth_server import TestOAuthServer


class LiveTokens(set[str]):
    def __init__(self, oauth: TestOAuthServer) -> None:
        super().__init__()
        self.oauth = oauth

    def __contains__(self, token: object) -> bool:
        return token in self.oauth.valid_access_tokens()
