"""The audit log on the real stack: the checkpointer signs the stream, a witness process
cosigns over HTTP, `cairn audit export --signed` writes the store's leaves and `cairn audit
verify` checks them offline, also after a person's key was shredded."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import nats
import pytest
from typer.testing import CliRunner

from adapters.audit.checkpointer import Checkpointer, Schedule
from adapters.audit.keys import Ed25519Signer, Ed25519Verifier
from adapters.audit.witness_client import WitnessClient
from adapters.audit.witness_http import WitnessServer
from adapters.audit.witness_store import WitnessStore
from adapters.push.store import StoreReader
from domain.audit.note import COSIGNATURE_V1, parse_note
from domain.event_context import EventContext
from domain.identity.credential import SecurityEvent
from entrypoints.audit_cli import audit_app
from tests.e2e.push.harness import LiveCairn

pytestmark = pytest.mark.e2e

ORIGIN = "cairn.test/e2e-audit"
LOG_KEY = Ed25519Signer.generate(ORIGIN)
WITNESS_KEY = Ed25519Signer.generate("witness.test/e2e", COSIGNATURE_V1)


@pytest.fixture
def witness_url(tmp_path: Path) -> Iterator[str]:
    store = WitnessStore(
        tmp_path / "witness", {ORIGIN: [Ed25519Verifier(LOG_KEY.verifier_key)]}, WITNESS_KEY
    )
    server = WitnessServer(("127.0.0.1", 0), store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def checkpoint(live: LiveCairn, witness_url: str, rounds: int = 1) -> list[str]:
    """Catch the checkpointer up with the stream and sign, `rounds` times."""
    s = live.settings

    async def run() -> list[str]:
        nc = await nats.connect(s.nats_url)
        reader = StoreReader(nc, s.stream, s.subject_prefix)
        witness = WitnessClient(witness_url)
        await reader.start()
        try:
            pointer = Checkpointer(nc, reader, ORIGIN, LOG_KEY, [witness], Schedule(3600, 1))
            await pointer.start()
            notes = []
            for _ in range(rounds):
                await pointer.catch_up()
                notes.append(str(await pointer.checkpoint()))
            return notes
        finally:
            await witness.close()
            await reader.close()
            await nc.close()

    return asyncio.run(run())


def cli(live: LiveCairn, *args: str) -> tuple[int, str]:
    s = live.settings
    env = {
        "CAIRN_NATS_URL": s.nats_url,
        "CAIRN_STREAM": s.stream,
        "CAIRN_SUBJECT_PREFIX": s.subject_prefix,
    }
    result = CliRunner().invoke(audit_app, list(args), env=env)
    return result.exit_code, result.output


def keys() -> list[str]:
    return ["--log-key", str(LOG_KEY.verifier_key), "--witness-key", str(WITNESS_KEY.verifier_key)]


def test_signed_checkpoints_cosigned_exported_and_verified(
    live: LiveCairn, witness_url: str, tmp_path: Path
) -> None:
    people = [live.sign_up(f"auditlog{n}") for n in range(3)]
    for n in range(20):
        for person in people:
            live.record(person.tenant, n)
    first, second = checkpoint(live, witness_url, rounds=1) + checkpoint(live, witness_url)
    for note in (first, second):
        names = [s.name for s in parse_note(note).signatures]
        assert names == [ORIGIN, WITNESS_KEY.name]
    out = tmp_path / "all.ndjson"
    code, output = cli(live, "export", "--signed", "--out", str(out), "-q")
    assert code == 0, output
    code, output = cli(live, "verify", str(out), *keys(), "-q")
    assert code == 0, output
    assert "2 signed checkpoints (2 with a witness quorum)" in output
    assert "verified: 0 findings" in output

    # One tenant's export: its events in full, the others' as leaf hashes.
    mine = tmp_path / "mine.ndjson"
    code, output = cli(live, "export", "--signed", "--tenant", people[0].tenant, "--out", str(mine))
    assert code == 0, output
    records = [json.loads(line) for line in mine.read_text().splitlines()[1:]]
    subjects = {r["subject"].split(".")[1] for r in records if r.get("kind") == "event"}
    assert subjects == {people[0].tenant}
    assert any(r.get("kind") == "leaf" for r in records)
    assert cli(live, "verify", str(mine), *keys(), "-q")[0] == 0

    # A byte flipped in the file: non-zero exit naming the sequence.
    lines = out.read_text().splitlines(keepends=True)
    i = next(i for i, line in enumerate(lines) if '"kind":"event"' in line and i > 10)
    record = json.loads(lines[i])
    data = bytearray(base64.b64decode(record["data_b64"]))
    data[0] ^= 0x01
    record["data_b64"] = base64.b64encode(bytes(data)).decode()
    lines[i] = json.dumps(record) + "\n"
    out.write_text("".join(lines))
    code, output = cli(live, "verify", str(out), *keys(), "-q")
    assert code == 1
    assert f"mutated at seq {record['seq']}" in output


def test_after_erasure_the_export_verifies_and_shows_sealed(
    live: LiveCairn, witness_url: str, tmp_path: Path
) -> None:
    ada = live.sign_up("auditerase")
    email = "ada@auditerase.example.com"
    assert live.services.identity.vault.erase_subject(ada.tenant, ada.user_id)
    live.record(ada.tenant, 1)
    checkpoint(live, witness_url)
    out = tmp_path / "erased.ndjson"
    assert cli(live, "export", "--signed", "--tenant", ada.tenant, "--out", str(out), "-q")[0] == 0
    code, output = cli(live, "verify", str(out), *keys(), "-q")
    assert code == 0, output
    assert "sealed (personal fields not readable" in output
    text = out.read_text()
    decoded = b"".join(
        base64.b64decode(json.loads(line).get("data_b64", "")) for line in text.splitlines()
    )
    assert email not in text
    assert email.encode() not in decoded
    assert "Ada Lovelace" not in text and b"Ada Lovelace" not in decoded


def test_checkpoints_proofs_and_receipts_over_http(live: LiveCairn, witness_url: str) -> None:
    from domain.audit.merkle import verify_consistency, verify_inclusion
    from domain.audit.note import Checkpoint

    ada, bob = live.sign_up("auditproofa"), live.sign_up("auditproofb")
    # A command that creates one aggregate: no marker (decision 0021), its event names it.
    fact = SecurityEvent("audit.test", UUID(ada.tenant), None, None, "ok", {})
    command_id = f"{ada.tenant}:{ada.user_id}:receipt-cmd-1"  # as the API scopes a key
    context = EventContext(tenant=ada.tenant, actor="robot", command_id=command_id)
    mine = live.services.identity.app.save_atomically(fact, context=context)
    assert mine is not None
    theirs = live.record(bob.tenant, 2)
    receipt_url = "/v1/audit/receipts/receipt-cmd-1"
    created = {"aggregate_id": str(fact.id)}
    assert live.http.get(receipt_url, params=created, headers=ada.headers).status_code == 409
    first, second = checkpoint(live, witness_url) + checkpoint(live, witness_url)

    page = live.http.get("/v1/audit/checkpoints", headers=ada.headers).json()
    assert [c["note"] for c in page["checkpoints"]] == [first, second]
    latest = Checkpoint.parse(parse_note(second).text)

    answer = live.http.get(f"/v1/audit/proofs/inclusion/{mine}", headers=ada.headers)
    assert answer.status_code == 200, answer.text
    proof = answer.json()
    b64 = base64.b64decode
    verify_inclusion(
        mine - 1, latest.size, b64(proof["leaf"]), [b64(p) for p in proof["proof"]], latest.root
    )
    # Bob's event is not Ada's to prove: the same 404 as a sequence that does not exist.
    hidden = live.http.get(f"/v1/audit/proofs/inclusion/{theirs}", headers=ada.headers)
    assert hidden.status_code == 404
    own = live.http.get(f"/v1/audit/proofs/inclusion/{theirs}", headers=bob.headers)
    assert own.status_code == 200
    assert own.json()["seq"] == theirs

    old = Checkpoint.parse(parse_note(first).text)
    answer = live.http.get(
        "/v1/audit/proofs/consistency",
        params={"old": old.size, "new": latest.size},
        headers=bob.headers,
    )
    assert answer.status_code == 200, answer.text
    consistency = [b64(p) for p in answer.json()["proof"]]
    verify_consistency(old.size, latest.size, old.root, latest.root, consistency)

    receipt = live.http.get(receipt_url, params=created, headers=ada.headers).json()
    assert [e["seq"] for e in receipt["events"]] == [mine]
    # Without the id of what it created there is no marker to find it by; Bob finds nothing.
    assert live.http.get(receipt_url, headers=ada.headers).status_code == 404
    assert live.http.get(receipt_url, params=created, headers=bob.headers).status_code == 404


def test_unwitnessed_events_are_counted_until_a_witness_cosigns(
    live: LiveCairn, witness_url: str
) -> None:
    ada = live.sign_up("unwitnessedhome")
    s = live.settings

    async def run() -> tuple[int, int, int]:
        nc = await nats.connect(s.nats_url)
        reader = StoreReader(nc, s.stream, s.subject_prefix)
        down, up = WitnessClient("http://127.0.0.1:9"), WitnessClient(witness_url)
        await reader.start()
        try:
            pointer = Checkpointer(nc, reader, ORIGIN, LOG_KEY, [down], Schedule(3600, 1))
            await pointer.start()
            await pointer.catch_up()
            await pointer.checkpoint()  # signed and stored, but no witness cosigned it
            refused = pointer.unwitnessed
            live.record(ada.tenant, 1)
            pointer.witnesses = [up]
            await pointer.catch_up()
            await pointer.checkpoint()
            return refused, pointer.log.size, pointer.unwitnessed
        finally:
            await down.close()
            await up.close()
            await reader.close()
            await nc.close()

    refused, size, after = asyncio.run(run())
    assert 0 < refused < size  # at least Ada's sign-up; cosigned sizes before it count as seen
    assert after == 0


def test_a_witness_back_up_cosigns_without_new_events(live: LiveCairn, witness_url: str) -> None:
    live.sign_up("quietwitnesshome")
    s = live.settings

    async def run() -> tuple[int, bool, bool, int, bool]:
        nc = await nats.connect(s.nats_url)
        reader = StoreReader(nc, s.stream, s.subject_prefix)
        down, up = WitnessClient("http://127.0.0.1:9"), WitnessClient(witness_url)
        await reader.start()
        try:
            pointer = Checkpointer(nc, reader, ORIGIN, LOG_KEY, [down], Schedule(0.05, 10_000))
            await pointer.start()
            await pointer.catch_up()
            await pointer.checkpoint()  # stored, but the witness was down
            pointer.witnesses = [up]
            await pointer.catch_up()  # only the checkpoint's own message: nothing pending
            quiet, due_at_once = pointer.pending, pointer.due()
            for _ in range(100):  # the retry wait (0.1 s after one failure) passes
                await asyncio.sleep(0.05)
                if pointer.due():
                    break
            due_later = pointer.due()
            await pointer.checkpoint()
            await pointer.catch_up()
            return quiet, due_at_once, due_later, pointer.unwitnessed, pointer.due()
        finally:
            await down.close()
            await up.close()
            await reader.close()
            await nc.close()

    quiet, due_at_once, due_later, unwitnessed, due_after = asyncio.run(run())
    assert quiet == 0 and not due_at_once  # no new event, and the retry waits
    assert due_later  # a checkpoint no witness cosigned is signed again without traffic
    # Cosigned: the checkpoint's own message is no event awaiting a witness, nothing is due.
    assert unwitnessed == 0 and not due_after
