"""RFC 8628's verification URI (`/device?user_code=...`, what `cairn login` shows) answers the
console's page with its strict CSP; the page's router opens the device-code screen."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import CONSOLE_DIR, CONTENT_SECURITY_POLICY
from tests.unit.api.test_console_files import URLS

pytestmark = pytest.mark.unit


def test_the_verification_uri_answers_the_console_page() -> None:
    with TestClient(create_app(URLS, with_services=False)) as client:
        page = client.get("/device?user_code=BCDF-GHJK")
        root = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.text == root.text
    router = (CONSOLE_DIR / "js" / "app.js").read_text()
    assert 'location.pathname === "/device"' in router
