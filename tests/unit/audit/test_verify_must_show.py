"""`cairn audit verify` on 1,000 events of three tenants: clean, then each kind of tampering."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.audit_cli import audit_app
from tests.unit.audit.synthetic import LOG_KEY, PERSONAL, WITNESS_KEY, Built, build

pytestmark = pytest.mark.unit

KEYS = ["--log-key", str(LOG_KEY.verifier_key), "--witness-key", str(WITNESS_KEY.verifier_key)]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("log"))


def verify(built: Built, folder: Path, *extra: str) -> tuple[int, str]:
    export = built.write(folder / "export.ndjson")
    result = CliRunner().invoke(audit_app, ["verify", str(export), *KEYS, "-q", *extra])
    return result.exit_code, result.output


def copy(built: Built) -> Built:
    return Built(list(built.lines), list(built.notes))


def test_a_clean_export_verifies_with_0_findings(clean: Built, tmp_path: Path) -> None:
    code, output = verify(clean, tmp_path)
    assert code == 0, output
    assert "1142 leaves, 1142 events" in output
    assert "12 signed checkpoints (12 with a witness quorum)" in output
    assert "20 policy decisions re-evaluated" in output
    assert "verified: 0 findings" in output


def _flip(record: dict[str, object]) -> None:
    data = str(record["data_b64"])
    i = len(data) // 2
    record["data_b64"] = data[:i] + ("A" if data[i] != "A" else "B") + data[i + 1 :]


def _flip_byte(built: Built, seq: int) -> None:
    built.edit(seq, _flip)


def _delete(built: Built, seq: int) -> None:
    del built.lines[built.index_of(seq)]


def _insert(built: Built, seq: int) -> None:
    i = built.index_of(seq)
    record = json.loads(built.lines[i])
    record["data_b64"] = base64.b64encode(b'{"text":"forged"}').decode()
    built.lines.insert(i + 1, json.dumps(record) + "\n")


def _swap(built: Built, seq: int) -> None:
    i, j = built.index_of(seq), built.index_of(seq + 1)
    built.lines[i], built.lines[j] = built.lines[j], built.lines[i]


def _subject(built: Built, seq: int) -> None:
    built.edit(seq, lambda r: r.update(subject=str(r["subject"]).replace("tenant-a", "tenant-b")))


def _truncate(built: Built, seq: int) -> None:
    del built.lines[built.index_of(seq) :]


CASES: list[tuple[str, Callable[[Built, int], None], int, list[str]]] = [
    ("byte flip", _flip_byte, 500, ["mutated at seq 500"]),
    ("deleted", _delete, 501, ["missing at seq 501"]),
    ("inserted", _insert, 502, ["inserted at seq 502"]),
    ("swapped", _swap, 503, ["reordered at seq 503"]),
    ("subject", _subject, 505, ["mutated at seq 505"]),  # 505 is an event of tenant-a
    ("truncated", _truncate, 900, ["truncated tail at seq 900"]),
]


@pytest.mark.parametrize(("name", "tamper", "seq", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_tampering_is_named_by_sequence_and_class(
    clean: Built,
    tmp_path: Path,
    name: str,
    tamper: Callable[[Built, int], None],
    seq: int,
    expected: list[str],
) -> None:
    tampered = copy(clean)
    tamper(tampered, seq)
    code, output = verify(tampered, tmp_path)
    assert code == 1, output
    report = _findings(output)
    for finding in expected:
        assert any(line.startswith(finding + ":") for line in report), (finding, report)


def _findings(output: str) -> list[str]:
    return [line for line in output.splitlines() if " at " in line and ": " in line]


def test_erasure_the_export_verifies_and_shows_sealed(clean: Built, tmp_path: Path) -> None:
    # The person's key is gone (never given to the verifier): only their sealed tokens remain.
    code, output = verify(clean, tmp_path)
    assert code == 0, output
    assert "13 sealed" in output
    text = clean.text()
    decoded = b"".join(
        base64.b64decode(json.loads(line).get("data_b64", "")) for line in clean.lines
    )
    for plain in PERSONAL:
        assert plain not in text
        assert plain.encode() not in decoded
    assert b"pii:v1:person-x:" in decoded


def test_a_tampered_policy_decision_is_reported_by_its_decision_id(
    clean: Built, tmp_path: Path
) -> None:
    tampered = copy(clean)
    seq = next(
        json.loads(line)["seq"]
        for line in tampered.lines
        if ".Run." in line and json.loads(line).get("kind") == "event"
    )
    run_id = json.loads(tampered.lines[tampered.index_of(seq)])["subject"].rsplit(".", 1)[1]

    def flip_outcome(record: dict[str, object]) -> None:
        state = json.loads(base64.b64decode(str(record["data_b64"])))
        state["outcome"] = "APPROVE" if state["outcome"] != "APPROVE" else "DENY"
        record["data_b64"] = base64.b64encode(json.dumps(state).encode()).decode()

    tampered.edit(seq, flip_outcome)
    code, output = verify(tampered, tmp_path)
    assert code == 1
    assert run_id in output
    assert "decision does not reproduce" in output
    # Without the decision replay, the same export still fails on the changed leaf.
    code, output = verify(tampered, tmp_path, "--no-policy")
    assert code == 1
    assert any(line.startswith(f"mutated at seq {seq}:") for line in _findings(output))


def test_one_tampering_gives_one_finding(clean: Built, tmp_path: Path) -> None:
    for _name, tamper, seq, expected in CASES:
        tampered = copy(clean)
        tamper(tampered, seq)
        _code, output = verify(tampered, tmp_path)
        assert len(_findings(output)) == len(expected), output


def test_parts_scanned_in_processes_give_the_same_findings(clean: Built, tmp_path: Path) -> None:
    from adapters.audit.keys import Ed25519Verifier
    from domain.audit.verify import ExportVerifier
    from entrypoints.audit_verify import verify_file

    tampered = copy(clean)
    _swap(tampered, 300)
    _flip_byte(tampered, 700)
    _delete(tampered, 901)
    export = tampered.write(tmp_path / "parts.ndjson")
    reports = []
    for jobs, chunk in ((1, 1 << 20), (2, 20_000), (1, 7_000)):
        verifier = ExportVerifier(
            [Ed25519Verifier(LOG_KEY.verifier_key)],
            [Ed25519Verifier(WITNESS_KEY.verifier_key)],
            quorum=1,
        )
        reports.append(verify_file(export, verifier, quiet=True, jobs=jobs, chunk=chunk))
    found = [[str(f) for f in r.findings] for r in reports]
    assert found[0] == found[1] == found[2]
    assert [f.split(":")[0] for f in found[0]] == [
        "reordered at seq 300",
        "missing at seq 901",
        "mutated at seq 700",
    ]
