"""`cairn witness` over HTTP (C2SP tlog-witness): the statuses, the 409 body, and the log's
client that resynchronises from it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.audit.keys import Ed25519Signer, Ed25519Verifier
from adapters.audit.witness_client import WitnessClient
from adapters.audit.witness_http import WitnessServer
from adapters.audit.witness_store import WitnessStore
from domain.audit.log import AuditLog, LogMessage
from domain.audit.note import COSIGNATURE_V1, SignedNote, parse_signature_line
from domain.audit.witness import request_body

pytestmark = pytest.mark.e2e

ORIGIN = "cairn.test/witness-http"
LOG_KEY = Ed25519Signer.generate(ORIGIN)
WITNESS_KEY = Ed25519Signer.generate("witness.test/http", COSIGNATURE_V1)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    store = WitnessStore(tmp_path, {ORIGIN: [Ed25519Verifier(LOG_KEY.verifier_key)]}, WITNESS_KEY)
    server = WitnessServer(("127.0.0.1", 0), store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def log_of(size: int, fork: bytes = b"") -> AuditLog:
    log = AuditLog()
    for seq in range(1, size + 1):
        data = fork if seq > 5 else b""
        log.append(LogMessage(seq, f"cairn.t.Note.n{seq}", "", data))
    return log


def post(url: str, body: str) -> httpx.Response:
    return httpx.post(f"{url}/add-checkpoint", content=body.encode())


def test_the_statuses_of_add_checkpoint(url: str) -> None:
    log = log_of(10)
    note = log.checkpoint(ORIGIN, LOG_KEY)
    assert post(url, "no blank line").status_code == 400
    other = SignedNote(note.text.replace(ORIGIN, "elsewhere.example/log"), note.signatures)
    assert post(url, request_body(0, [], other)).status_code == 404
    forged = SignedNote(note.text.replace("\n10\n", "\n11\n"), note.signatures)
    assert post(url, request_body(0, [], forged)).status_code == 403

    answer = post(url, request_body(0, [], note))
    assert answer.status_code == 200
    cosignature = parse_signature_line(answer.text.rstrip("\n"))
    assert Ed25519Verifier(WITNESS_KEY.verifier_key).verify(note.text, cosignature.signature)

    stale = post(url, request_body(0, [], log_of(12).checkpoint(ORIGIN, LOG_KEY)))
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("text/x.tlog.size")
    assert stale.text == "10\n"
    forked = log_of(12, fork=b"other")
    bad = post(
        url,
        request_body(10, forked.tree.consistency_proof(10, 12), forked.checkpoint(ORIGIN, LOG_KEY)),
    )
    assert bad.status_code == 422


def test_the_log_resynchronises_after_a_409(url: str) -> None:
    log = log_of(8)
    assert post(url, request_body(0, [], log.checkpoint(ORIGIN, LOG_KEY))).status_code == 200
    longer = log_of(20)

    async def cosign() -> list[str]:
        client = WitnessClient(url)  # believes the witness holds nothing yet
        try:
            lines = await client.cosign(longer.checkpoint(ORIGIN, LOG_KEY), longer.tree)
            assert client.size == 20
            return [line.name for line in lines]
        finally:
            await client.close()

    assert asyncio.run(cosign()) == [WITNESS_KEY.name]
