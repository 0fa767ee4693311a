"""The pinned pattern and the JSON parser read the same values from every line both accept."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.audit import export_format as fmt
from domain.audit.envelope import message_leaf
from domain.audit.scan import EVENT, LEAF, scan_lines
from domain.audit.verify import ExportVerifier
from tests.unit.audit.synthetic import log_verifiers

pytestmark = pytest.mark.unit

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(1, 10**6),
    subject=texts,
    msg_id=texts,
    tenant_seq=st.integers(1, 10**6),
    data=st.binary(max_size=200),
    headers=st.dictionaries(texts, texts, max_size=3),
    time=texts,
)
def test_the_pattern_reads_what_json_reads(
    seq: int,
    subject: str,
    msg_id: str,
    tenant_seq: int,
    data: bytes,
    headers: dict[str, str],
    time: str,
) -> None:
    leaf = message_leaf(seq, subject, msg_id, tenant_seq, data)
    line = fmt.event_line(
        seq, subject, msg_id, tenant_seq, leaf, data, time=time, headers=headers
    ).encode()
    scan = scan_lines([line])
    if EVENT(line) is None:
        assert scan.others == [(0, line)]  # handed to the JSON parser
        return
    record = json.loads(line)
    assert scan.seqs == [record["seq"]] == [seq]
    assert scan.mismatched == []  # the same envelope: its leaf matches
    assert subject.isascii() and "\\" not in subject and '"' not in subject


def test_a_second_top_level_key_is_not_taken_by_the_pattern() -> None:
    leaf = message_leaf(1, "cairn.t.A.x", "", 1, b"real")
    line = fmt.event_line(1, "cairn.t.A.x", "", 1, leaf, b"real").rstrip("\n")
    forged = line[:-1] + ',"data_b64":"Zm9yZ2Vk"}\n'  # JSON readers take the last one
    assert EVENT(forged.encode()) is None
    assert json.loads(forged)["data_b64"] == "Zm9yZ2Vk"
    verifier = ExportVerifier(log_verifiers())
    verifier.feed(fmt.header_line("o", None, 1))
    verifier.feed(forged)
    assert verifier._mismatched and verifier._mismatched[0][0] == 1
    assert LEAF(fmt.leaf_line(3, leaf).encode()) is not None
