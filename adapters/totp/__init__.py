"""TOTP second factor (pyotp) with replay protection in Redis."""

from adapters.totp.errors import TotpInvalid, TotpReplayed, TotpUnavailable
from adapters.totp.totp import RedisTotp

__all__ = ["RedisTotp", "TotpInvalid", "TotpReplayed", "TotpUnavailable"]
