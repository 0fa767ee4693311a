"""Mutation fuzzing of the proof code: every honest proof verifies, every mutation of it fails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.audit import merkle

pytestmark = pytest.mark.unit


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 section 2.1 writes it (recursive, split at a power of two)."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def _tree(n: int) -> tuple[list[bytes], merkle.Tree]:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    return leaves, merkle.Tree(leaves)


@st.composite
def mutations(draw: st.DrawFn, proof: list[bytes]) -> list[bytes]:
    kind = draw(st.sampled_from(["flip", "drop", "add", "swap"] if proof else ["add"]))
    mutated = list(proof)
    if kind == "flip":
        i = draw(st.integers(0, len(proof) - 1))
        bit = draw(st.integers(0, 255))
        node = bytearray(mutated[i])
        node[bit // 8] ^= 1 << (bit % 8)
        mutated[i] = bytes(node)
    elif kind == "drop":
        del mutated[draw(st.integers(0, len(proof) - 1))]
    elif kind == "add":
        at = draw(st.integers(0, len(proof)))
        mutated.insert(at, draw(st.binary(min_size=32, max_size=32)))
    else:
        i, j = draw(st.integers(0, len(proof) - 1)), draw(st.integers(0, len(proof) - 1))
        mutated[i], mutated[j] = mutated[j], mutated[i]
        if mutated == proof:
            mutated.append(merkle.EMPTY_ROOT)
    return mutated


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300), st.data())
def test_roots_match_the_rfc_recursion_and_appends(n: int, data: st.DataObject) -> None:
    leaves, tree = _tree(n)
    grown = merkle.Tree([])
    for leaf in leaves:
        grown.append(leaf)
    size = data.draw(st.integers(0, n))
    assert tree.root(size) == reference_root(leaves[:size]) == grown.root(size)
    assert merkle.root(leaves[:size]) == reference_root(leaves[:size])


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 300), st.data())
def test_inclusion_proofs_and_their_mutations(n: int, data: st.DataObject) -> None:
    leaves, tree = _tree(n)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index, size)
    expected = tree.root(size)
    merkle.verify_inclusion(index, size, leaves[index], proof, expected)
    mutated = data.draw(mutations(proof))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(index, size, leaves[index], mutated, expected)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: leaves[i] != leaves[index]))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(index, size, leaves[other], proof, expected)


@settings(max_examples=400, deadline=None)
@given(st.integers(2, 300), st.data())
def test_consistency_proofs_and_their_mutations(n: int, data: st.DataObject) -> None:
    _leaves, tree = _tree(n)
    new = data.draw(st.integers(2, n))
    old = data.draw(st.integers(1, new - 1))
    proof = tree.consistency_proof(old, new)
    old_root, new_root = tree.root(old), tree.root(new)
    merkle.verify_consistency(old, new, old_root, new_root, proof)
    mutated = data.draw(mutations(proof))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(old, new, old_root, new_root, mutated)
    # A fork: the same sizes with one leaf of the new part changed.
    changed = data.draw(st.integers(old, new - 1))
    forked = merkle.Tree(
        [*tree.levels[0][:changed], merkle.EMPTY_ROOT, *tree.levels[0][changed + 1 :]]
    )
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(old, new, old_root, forked.root(new), proof)
