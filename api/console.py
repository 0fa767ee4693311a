"""The web console: static files from `clients/console/`, served at `/` with a strict CSP.

The console is a client like any other (it only calls the public HTTP API); this module only
serves its files. Every console response carries a Content-Security-Policy that allows
scripts, styles and connections from this origin alone, and no inline script or style.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

# The console is a client of the API, not a part of it: the API only serves its files, from
# beside it (the `clients` package's data, installed alongside `api`), and imports nothing.
CONSOLE_DIR = Path(__file__).resolve().parents[1] / "clients" / "console"
ASSETS_PATH = "/console"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "publickey-credentials-get=(self), publickey-credentials-create=(self)",
}


class ConsoleFiles(StaticFiles):
    """Static files with the console's security headers (a missing file is the API's JSON
    404, from its error handlers)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                # Assets change with the server; revalidate instead of running stale code.
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, with_headers)


def mount_console(app: FastAPI) -> None:
    """`GET /` answers the console's page; its scripts and styles live under `/console/`."""

    @app.get("/", include_in_schema=False)
    def console_page() -> FileResponse:
        return FileResponse(
            CONSOLE_DIR / "index.html",
            headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
        )

    # RFC 8628's verification URI (`cairn login` shows it): the same page, whose router
    # opens the device-code screen.
    @app.get("/device", include_in_schema=False)
    def device_page() -> FileResponse:
        return console_page()

    app.mount(ASSETS_PATH, ConsoleFiles(directory=CONSOLE_DIR), name="console")
