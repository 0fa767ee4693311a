"""The console's fixtures (a Cairn with its worker and projectors, chromium, passkeys)."""

from tests.e2e.console.conftest import (  # noqa: F401
    browser,
    console,
    context,
    litellm_imported,
    page,
    passkeys,
    provider,
)
