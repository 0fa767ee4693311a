"""A local server speaking OpenAI's embeddings API (`POST /v1/embeddings`), for litellm's real
client: each text gets a deterministic unit vector of `dim` numbers derived from its words, so
texts sharing words are near. Records what it was asked; a wrong key gets a 401 echoing it."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


def vector_of(text: str, dim: int) -> list[float]:
    values = [0.0] * dim
    for word in text.lower().split():
        digest = hashlib.sha256(word.encode()).digest()
        values[int.from_bytes(digest[:4], "big") % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class EmbeddingsStub:
    def __init__(self, key: str, dim: int = 1536) -> None:
        self.key = key
        self.dim = dim
        self.requests: list[dict[str, Any]] = []
        self.fail = False  # answer 500 while set (a provider outage)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def texts(self) -> list[str]:
        return [text for request in self.requests for text in request["input"]]

    def __enter__(self) -> EmbeddingsStub:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(stub: EmbeddingsStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # ~40 ms per call otherwise (FIELD-NOTES)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path.rstrip("/") != "/v1/embeddings":
                self.send_error(404)
                return
            received = self.headers.get("Authorization", "")
            if received != f"Bearer {stub.key}":
                self._send(401, {"error": {"message": f"Incorrect API key provided: {received}"}})
                return
            if stub.fail:
                self._send(500, {"error": {"message": "overloaded"}})
                return
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            stub.requests.append({**body, "input": texts})
            data = [
                {"object": "embedding", "index": i, "embedding": vector_of(text, stub.dim)}
                for i, text in enumerate(texts)
            ]
            tokens = sum(len(text.split()) for text in texts)
            self._send(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body.get("model"),
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
