"""The web console is served at `/` and `/console/` with its strict CSP; the API's own
answers are unchanged (JSON 404 elsewhere, `/` not in the OpenAPI document)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import CONSOLE_DIR, CONTENT_SECURITY_POLICY
from api.settings import ServiceUrls

pytestmark = pytest.mark.unit
LOADS_ELSEWHERE = r"(from|import|fetch|src=|href=|url|URL|EventSource|WebSocket)\W{0,3}(https?:)?//"

URLS = ServiceUrls("nats://127.0.0.1:1", "postgresql://127.0.0.1:1/x", "redis://127.0.0.1:1")


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(URLS, with_services=False)) as client:
        yield client


def test_the_page_and_its_files_carry_the_strict_csp(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    script = client.get("/console/js/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    missing = client.get("/console/js/nothing.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_the_policy_allows_only_this_origin_and_nothing_inline() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src", "img-src"):
        assert directives[name] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'"


def test_the_console_has_no_inline_script_or_style_and_names_no_other_origin() -> None:
    files = [p for p in CONSOLE_DIR.rglob("*") if p.suffix in {".html", ".js", ".css"}]
    assert len(files) > 5
    html = (CONSOLE_DIR / "index.html").read_text()
    # Every script is a file of this origin; no inline <script>, style block or attribute.
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script type="module" src="/console/js/app.js">'
    ]
    assert "<style" not in html and " style=" not in html and "onclick=" not in html
    for path in files:
        text = path.read_text()
        # Nothing is loaded from, sent to or linked at another origin.
        assert not re.search(LOADS_ELSEWHERE, text), path
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path
        assert "eval(" not in text and "new Function" not in text, path


def test_other_paths_keep_the_api_answers(client: TestClient) -> None:
    unknown = client.get("/v1/no-such-route")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert "content-security-policy" not in unknown.headers
    assert "/" not in client.get("/openapi.json").json()["paths"]
