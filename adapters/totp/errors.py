"""Why a TOTP code was refused, with stable codes."""

from __future__ import annotations

from domain.errors import NotAuthenticated, Unavailable


class TotpInvalid(NotAuthenticated):
    code = "totp_invalid"


class TotpReplayed(NotAuthenticated):
    """A code of this or an earlier time step was already accepted for this user."""

    code = "totp_replayed"


class TotpUnavailable(Unavailable):
    """Redis is down: without the replay check no code can be accepted."""

    code = "totp_unavailable"
