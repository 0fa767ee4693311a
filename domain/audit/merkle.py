"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

Written from RFC 9162 section 2.1: leaves are hashed as ``SHA-256(0x00 || leaf)``, interior
nodes as ``SHA-256(0x01 || left || right)``, and a tree of n leaves splits at the largest power
of two smaller than n. Proof generation follows the RFC's recursive PATH and SUBPROOF; the
verifiers are the RFC's iterative algorithms, with the edge cases of the transparency-dev/merkle
test vectors (tests/data/merkle).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof that does not verify, or that cannot be made for the given sizes."""


def leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves (given as leaf hashes): pairwise, level by level, the last odd node
    carried up unchanged, which is the RFC's split at the largest power of two."""
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class Tree:
    """Every level of a tree's complete subtrees, so that any past root and any proof costs
    O(log^2 n) hashes after one O(n) build."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        sha256 = _sha256
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            # node_hash inlined: one call less per node, at a million leaves it shows.
            self.levels.append(
                [
                    sha256(b"\x01" + a + b).digest()
                    for a, b in zip(below[::2], below[1::2], strict=False)
                ]
            )

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, completing the subtrees it closes."""
        self.levels[0].append(leaf)
        height, index = 0, len(self.levels[0]) - 1
        while index % 2 == 1:
            below = self.levels[height]
            if height + 1 == len(self.levels):
                self.levels.append([])
            self.levels[height + 1].append(node_hash(below[index - 1], below[index]))
            height, index = height + 1, index // 2

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end): a complete aligned subtree, or the right edge of one."""
        count = end - start
        if count <= 0:
            return EMPTY_ROOT
        height = count.bit_length() - 1
        if count == 1 << height and start % count == 0:
            return self.levels[height][start >> height]
        k = _split(count)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ProofError(f"no tree of size {size}: the log has {self.size} leaves")
        return self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) of RFC 6962 section 2.1.1."""
        if not 0 <= index < size <= self.size:
            raise ProofError(f"no leaf {index} in a tree of size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self.subtree(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """PROOF(old, D[new]) of RFC 6962 section 2.1.2 (empty when old is 0 or old == new)."""
        if not 0 <= old <= new <= self.size:
            raise ProofError(f"no consistency proof from {old} to {new} (log size {self.size})")
        if old in (0, new):
            return []
        proof: list[bytes] = []
        start, end, whole = 0, new, True
        m = old
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self.subtree(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k))
                m -= k
                start += k
                whole = False
        if not whole:
            proof.append(self.subtree(start, end))
        proof.reverse()
        return proof


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below the tree size {size}")
    _check_hash(leaf, "the leaf hash")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "a proof hash")
        if sn == 0:
            raise ProofError("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the path to the root")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    if root_from_inclusion(index, size, leaf, proof) != expected_root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with that root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2: the tree of size `new` extends the one of size `old`."""
    if not 0 <= old <= new:
        raise ProofError(f"old size {old} is larger than new size {new}")
    if old == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old == new:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if old_root != new_root:
            raise ProofError(f"two different roots for size {old}")
        return
    if not proof:
        raise ProofError("empty proof between different sizes")
    for p in proof:
        _check_hash(p, "a proof hash")
    path = list(proof)
    if old & (old - 1) == 0:  # an exact power of two: the old root is the path's first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the root of size {old}")
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the root of size {new}")
