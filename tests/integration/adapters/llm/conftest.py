"""Fixtures for the planner's integration tests: litellm offline, and a local provider stub.

The stub speaks just enough of four providers' HTTP APIs (OpenAI and Azure chat completions,
Anthropic messages, Gemini generateContent) for litellm's real request and response code to
run against it, and checks each provider's own authentication header. A wrong key gets a 401
whose body echoes the key it received, as a careless provider might: the planner must not
repeat provider error texts anywhere.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from commands.ports.planner import LlmProvider

# Before anything imports litellm: never fetch the price list from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PROMPT_TOKENS, COMPLETION_TOKENS = 321, 54

AUTH_HEADER = {
    LlmProvider.OPENAI: "authorization",
    LlmProvider.AZURE: "api-key",
    LlmProvider.ANTHROPIC: "x-api-key",
    LlmProvider.GEMINI: "x-goog-api-key",
}


@dataclass
class SeenRequest:
    provider: LlmProvider
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ProviderStub:
    base_url: str
    answer: str = ""
    keys: dict[LlmProvider, str] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)

    def api_base(self, provider: LlmProvider) -> str:
        return f"{self.base_url}/v1" if provider is LlmProvider.OPENAI else self.base_url

    def expected_header(self, provider: LlmProvider) -> str:
        key = self.keys[provider]
        return f"Bearer {key}" if provider is LlmProvider.OPENAI else key

    def respond(self, provider: LlmProvider, path: str, headers: dict[str, str], body: Any) -> Any:
        self.requests.append(SeenRequest(provider, path, headers, body))
        received = headers.get(AUTH_HEADER[provider], "")
        if provider not in self.keys or received != self.expected_header(provider):
            return 401, {"error": {"message": f"Incorrect API key provided: {received}"}}
        if provider is LlmProvider.ANTHROPIC:
            return 200, self._anthropic(body)
        if provider is LlmProvider.GEMINI:
            return 200, self._gemini()
        return 200, self._chat_completion(body)

    def _chat_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": 1,
            "model": body.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": self.answer},
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }

    def _anthropic(self, body: dict[str, Any]) -> dict[str, Any]:
        # litellm asks for a JSON schema through a forced tool: answer with that tool's input.
        tools = body.get("tools") or []
        content: list[dict[str, Any]] = [{"type": "text", "text": self.answer}]
        if tools:
            tool_use = {"type": "tool_use", "id": "toolu_stub", "name": tools[0]["name"]}
            content = [{**tool_use, "input": json.loads(self.answer)}]
        return {
            "id": "msg_stub",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": "tool_use" if tools else "end_turn",
            "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS},
        }

    def _gemini(self) -> dict[str, Any]:
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": self.answer}]},
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": PROMPT_TOKENS,
                "candidatesTokenCount": COMPLETION_TOKENS,
                "totalTokenCount": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }


def _provider_of(path: str) -> LlmProvider:
    if path.startswith("/openai/deployments/"):
        return LlmProvider.AZURE
    if path.startswith("/v1/chat/completions"):
        return LlmProvider.OPENAI
    if path.startswith("/v1/messages"):
        return LlmProvider.ANTHROPIC
    if ":generateContent" in path:
        return LlmProvider.GEMINI
    raise ValueError(f"no provider serves {path}")


@pytest.fixture
def provider_stub() -> Iterator[ProviderStub]:
    stub_box: list[ProviderStub] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                status, payload = stub_box[0].respond(
                    _provider_of(self.path), self.path, headers, body
                )
            except ValueError:
                status, payload = 404, {"error": {"message": "not found"}}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub_box.append(ProviderStub(base_url=f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub_box[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
