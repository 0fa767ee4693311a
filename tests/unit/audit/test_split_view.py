"""Split view: two forks of the log share a prefix; the witness cosigns one and refuses the
other, and a verifier that needs one witness rejects the fork and any rollback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from adapters.audit.witness_store import WitnessStore
from domain.audit.findings import FindingClass
from domain.audit.log import AuditLog, LogMessage, write_export
from domain.audit.note import SignedNote, parse_note
from domain.audit.verify import ExportVerifier, Report
from domain.audit.witness import WitnessRefusal, request_body
from tests.unit.audit.synthetic import (
    LOG_KEY,
    ORIGIN,
    WITNESS_KEY,
    log_verifiers,
    messages,
    witness_verifiers,
)

pytestmark = pytest.mark.unit

PREFIX = 300


def fork(changed: str) -> list[LogMessage]:
    """The shared first 300 messages, then 200 that differ between the forks."""
    shared = messages(450)[:PREFIX]
    tail = [
        LogMessage(PREFIX + i + 1, f"cairn.tenant-a.Note.fork-{changed}", "", changed.encode())
        for i in range(200)
    ]
    return shared + tail


def log_of(log_messages: list[LogMessage], size: int) -> AuditLog:
    log = AuditLog()
    for message in log_messages[:size]:
        log.append(message)
    return log


@pytest.fixture
def witness(tmp_path: Path) -> WitnessStore:
    store = WitnessStore(tmp_path / "witness", {ORIGIN: log_verifiers()}, WITNESS_KEY)
    prefix = log_of(fork("a"), PREFIX).checkpoint(ORIGIN, LOG_KEY)
    store.add_checkpoint(request_body(0, [], prefix))
    return store


def submit(witness: WitnessStore, log_messages: list[LogMessage], old: int, new: int) -> SignedNote:
    log = log_of(log_messages, new)
    note = log.checkpoint(ORIGIN, LOG_KEY)
    proof = log.tree.consistency_proof(old, new) if old else []
    return note.with_signatures(witness.add_checkpoint(request_body(old, proof, note)))


def test_the_witness_cosigns_one_fork_and_refuses_the_other(witness: WitnessStore) -> None:
    fork_a, fork_b = fork("a"), fork("b")
    cosigned = submit(witness, fork_a, PREFIX, 500)
    assert [s.name for s in cosigned.signatures] == [ORIGIN, WITNESS_KEY.name]
    # The other fork, from the prefix the witness no longer holds: stale (409, with its size).
    with pytest.raises(WitnessRefusal) as stale:
        submit(witness, fork_b, PREFIX, 500)
    assert (stale.value.status, stale.value.size) == (409, 500)
    # The same size with another root: 409; from 500 with a made-up proof to 600: 422.
    with pytest.raises(WitnessRefusal) as conflict:
        submit(witness, fork_b, 500, 500)
    assert conflict.value.status == 409
    longer = [*fork_b, *(LogMessage(501 + i, "cairn.tenant-a.Note.x", "", b"") for i in range(100))]
    log = log_of(longer, 600)
    note = log.checkpoint(ORIGIN, LOG_KEY)
    with pytest.raises(WitnessRefusal) as bad_proof:
        witness.add_checkpoint(request_body(500, log.tree.consistency_proof(500, 600), note))
    assert bad_proof.value.status == 422
    # A rollback to the prefix: refused too, and the witness still holds fork a at 500.
    rolled_back = log_of(fork_a, PREFIX).checkpoint(ORIGIN, LOG_KEY)
    with pytest.raises(WitnessRefusal) as rollback:
        witness.add_checkpoint(request_body(500, [], rolled_back))
    assert rollback.value.status == 400
    latest = witness.latest(ORIGIN)
    assert latest is not None and latest.size == 500
    assert latest.root == log_of(fork_a, 500).tree.root()
    assert len(list((witness.folder / "refused").iterdir())) == 2  # kept as evidence


def test_the_witness_refuses_an_unsigned_or_unknown_log(witness: WitnessStore) -> None:
    note = log_of(fork("a"), 400).checkpoint(ORIGIN, LOG_KEY)
    forged = SignedNote(note.text.replace("400", "401"), note.signatures)
    with pytest.raises(WitnessRefusal) as forbidden:
        witness.add_checkpoint(request_body(PREFIX, [], forged))
    assert forbidden.value.status == 403
    other = SignedNote(note.text.replace(ORIGIN, "other.example/log"), note.signatures)
    with pytest.raises(WitnessRefusal) as unknown:
        witness.add_checkpoint(request_body(PREFIX, [], other))
    assert unknown.value.status == 404


def verify(text: str) -> Report:
    verifier = ExportVerifier(log_verifiers(), witness_verifiers(), quorum=1)
    for line in text.splitlines(keepends=True):
        verifier.feed(line)
    return verifier.finish()


def export(log_messages: list[LogMessage], notes: list[str]) -> str:
    out = io.StringIO()
    write_export(out, ORIGIN, log_messages, notes)
    return out.getvalue()


def test_a_quorum_1_verifier_rejects_the_fork_and_a_rollback(witness: WitnessStore) -> None:
    fork_a, fork_b = fork("a"), fork("b")
    good = str(submit(witness, fork_a, PREFIX, 500))
    assert verify(export(fork_a, [good])).clean
    # Fork b is signed by the log alone: the witness never cosigned it.
    only_log = str(log_of(fork_b, 500).checkpoint(ORIGIN, LOG_KEY))
    report = verify(export(fork_b, [only_log]))
    assert [(f.kind, f.seq) for f in report.findings] == [(FindingClass.NO_QUORUM, 500)]
    # Fork b's leaves under fork a's cosigned checkpoint: the root is not theirs.
    report = verify(export(fork_b, [good]))
    assert [f.kind for f in report.findings] == [FindingClass.MUTATED]
    assert report.findings[0].seq == 500
    # A rollback: the cosigned 500 followed by a log-signed 300 of the same log.
    prefix_note = str(log_of(fork_a, PREFIX).checkpoint(ORIGIN, LOG_KEY))
    lines = export(fork_a, [good]).splitlines(keepends=True)
    lines.append(json.dumps({"kind": "checkpoint", "note": prefix_note, "proof": []}) + "\n")
    kinds = {f.kind for f in verify("".join(lines)).findings}
    assert FindingClass.ROLLBACK in kinds
    assert FindingClass.NO_QUORUM in kinds
    assert parse_note(good).signatures[1].name == WITNESS_KEY.name


def test_the_log_refuses_to_sign_over_a_gap() -> None:
    from domain.audit.log import GapInLog

    log = log_of(fork("a"), 10)
    with pytest.raises(GapInLog):
        log.append(LogMessage(12, "cairn.tenant-a.Note.x", "", b""))
    assert log.size == 10
