"""The witness's HTTP face: ``POST /add-checkpoint`` (C2SP tlog-witness) over WitnessStore.

A small standard-library server: one request at a time per connection, each in its own
thread; the store's lock makes check-and-persist atomic across them.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from adapters.audit.witness_store import WitnessStore
from domain.audit.witness import WitnessRefusal

MAX_BODY = 64 * 1024  # 63 proof lines and a checkpoint with many signatures fit well below


class WitnessServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: WitnessStore) -> None:
        self.store = store
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the protocol recommends
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the witness logs refusals, not every request line."""

    def _answer(self, status: int, body: str, content_type: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if self.path.rstrip("/").rsplit("/", 1)[-1] != "add-checkpoint":
            self._answer(404, "not found\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._answer(400, "a body of at most 64 KiB is required\n")
            return
        try:
            body = self.rfile.read(length).decode("utf-8")
            cosignatures = self.server.store.add_checkpoint(body)
        except UnicodeDecodeError:
            self._answer(400, "the body is UTF-8 text\n")
        except WitnessRefusal as refusal:
            if refusal.status == 409 and refusal.size is not None:
                self._answer(409, f"{refusal.size}\n", "text/x.tlog.size")
            else:
                self._answer(refusal.status, refusal.message + "\n")
        else:
            self._answer(200, "".join(s.line() for s in cosignatures))
