"""The proof code against the public transparency-dev/merkle vectors (tests/data/merkle)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from domain.audit import merkle

pytestmark = pytest.mark.unit

DATA = Path(__file__).parents[2] / "data" / "merkle"
# RFC 6962's reference inputs: the happy-path vectors are proofs over these leaves.
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
TREE = merkle.Tree([merkle.leaf_hash(leaf) for leaf in LEAVES])


def _b(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _vectors(kind: str) -> list[Any]:
    files = sorted((DATA / kind).rglob("*.json"))
    return [pytest.param(json.loads(f.read_text()), id=str(f.relative_to(DATA))) for f in files]


INCLUSION = _vectors("inclusion")
CONSISTENCY = _vectors("consistency")


def test_the_vectors_are_all_there() -> None:
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98
    assert (DATA / "LICENSE").read_text().startswith("\n                                 Apache")


def test_hashes_of_rfc_6962() -> None:
    # The hasher cases of transparency-dev/merkle rfc6962_test.go.
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert merkle.leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert merkle.node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )
    assert TREE.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@pytest.mark.parametrize("vector", INCLUSION)
def test_inclusion_vector(vector: dict[str, Any]) -> None:
    args = (
        vector["leafIdx"],
        vector["treeSize"],
        _b(vector["leafHash"]),
        [_b(p) for p in vector["proof"] or []],
        _b(vector["root"]),
    )
    if vector["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
        return
    merkle.verify_inclusion(*args)
    if vector["treeSize"] <= len(LEAVES):
        assert TREE.inclusion_proof(vector["leafIdx"], vector["treeSize"]) == args[3]


@pytest.mark.parametrize("vector", CONSISTENCY)
def test_consistency_vector(vector: dict[str, Any]) -> None:
    proof = [_b(p) for p in vector["proof"] or []]
    args = (vector["size1"], vector["size2"], _b(vector["root1"]), _b(vector["root2"]), proof)
    if vector["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
        return
    merkle.verify_consistency(*args)
    if vector["size1"] > 0 and vector["size2"] <= len(LEAVES):
        assert TREE.consistency_proof(vector["size1"], vector["size2"]) == proof


def test_past_roots_match_the_vectors() -> None:
    for vector in CONSISTENCY:
        v = vector.values[0]
        if v["desc"] == "happy path" and v["size1"] > 0 and v["size2"] <= len(LEAVES):
            assert TREE.root(v["size1"]) == _b(v["root1"])
            assert TREE.root(v["size2"]) == _b(v["root2"])
