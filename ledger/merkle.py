"""RFC 6962 / RFC 9162 Merkle tree hashing, and checking inclusion and consistency proofs.

Hashing (RFC 9162 §2.1.1, SHA-256, identical to RFC 6962 §2.1)::

    MTH({})        = SHA-256()                          empty_root()
    MTH({d0})      = SHA-256(0x00 || d0)                leaf_hash(d0)
    MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))     node_hash(left, right)
                     where k is the largest power of two smaller than n

Proofs are lists of 32-byte hashes, ordered from the leaf (or the old tree) upwards:

* inclusion -- ``PATH(m, D[n])`` of RFC 9162 §2.1.3.1, checked per §2.1.3.2;
* consistency -- ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`` of RFC 9162 §2.1.4.1, checked per
  §2.1.4.2. Between sizes 0 and n, and between equal sizes, the proof is empty.

This module owns what an independent verifier needs: the hashes, the proof lengths and the two
checks. Making proofs is :mod:`ledger.merkle_proofs`; trees held in memory (and built page by
page) are :mod:`ledger.merkle_trees`.

Verification functions return ``None`` and raise :class:`~ledger.exceptions.VerificationError`
naming what failed (index out of range, wrong proof length, root mismatch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ledger.exceptions import VerificationError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def empty_root() -> bytes:
    """Root of the empty tree: ``SHA-256("")``."""
    return hashlib.sha256(b"").digest()


def largest_power_of_two_below(n: int) -> int:
    """The split point ``k`` of RFC 9162 §2.1.1: the largest power of two smaller than ``n``."""
    if n < 2:
        raise ValueError(f"no power of two is smaller than {n} and at least 1")
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a tree given its leaf hashes, in ``O(n)`` hashes."""
    check_hash_sizes(leaf_hashes, what="leaf hash")
    if not leaf_hashes:
        return empty_root()
    level = list(leaf_hashes)
    while len(level) > 1:
        # Hashing pairs and carrying an odd last node up unchanged gives exactly the RFC's
        # largest-power-of-two split.
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof_length(*, index: int, size: int) -> int:
    """Number of hashes in ``PATH(index, D[size])``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is out of range for tree size {size}")
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def consistency_proof_length(*, first: int, second: int) -> int:
    """Number of hashes in ``PROOF(first, D[second])``."""
    if not 0 <= first <= second:
        raise ValueError(f"cannot prove tree size {first} consistent with size {second}")
    if first in (0, second):
        return 0
    shift = (first & -first).bit_length() - 1  # trailing zero bits of first
    length = inclusion_proof_length(index=first - 1, size=second) - shift
    return length if first == 1 << shift else length + 1


def verify_inclusion(
    *, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. Raises :class:`VerificationError`.
    """
    if not 0 <= index < size:
        raise VerificationError(f"entry {index}: index is out of range for tree size {size}")
    _verify_hash_size(leaf_hash, f"entry {index}: leaf hash")
    _verify_hash_size(root, f"entry {index}: root hash")
    expected = inclusion_proof_length(index=index, size=size)
    if len(proof) != expected:
        raise VerificationError(
            f"entry {index}: inclusion proof has {_hashes(len(proof))}; "
            f"a tree of size {size} needs {expected}"
        )
    _check_proof_hashes(proof, f"entry {index}: inclusion proof")

    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise VerificationError(f"entry {index}: inclusion proof has hashes past the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise VerificationError(
            f"entry {index}: inclusion proof does not reach the root of tree size {size}"
        )


def verify_consistency(
    *, first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of size ``second`` extends the tree of size ``first``.

    RFC 9162 §2.1.4.2. A size-0 tree must have the empty root and an empty proof; equal sizes
    need equal roots and an empty proof. Raises :class:`VerificationError`.
    """
    if first < 0 or second < 0:
        raise VerificationError(f"tree sizes {first} and {second} must not be negative")
    if first > second:
        raise VerificationError(f"tree size {second} is smaller than {first}: a log cannot shrink")
    _verify_hash_size(first_root, f"root of tree size {first}")
    _verify_hash_size(second_root, f"root of tree size {second}")
    expected = consistency_proof_length(first=first, second=second)
    if len(proof) != expected:
        raise VerificationError(
            f"consistency proof {first} -> {second} has {_hashes(len(proof))}; it needs {expected}"
        )
    if first == second:
        if first_root != second_root:
            raise VerificationError(f"two different roots for the same tree size {first}")
        return
    if first == 0:
        if first_root != empty_root():
            raise VerificationError("the root of tree size 0 must be SHA-256 of nothing")
        return
    _check_proof_hashes(proof, f"consistency proof {first} -> {second}")

    path = list(proof)
    if first & (first - 1) == 0:
        # The old tree is a perfect subtree of the new one; its root is the proof's seed.
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError(
                f"consistency proof {first} -> {second} has hashes past the root"
            )
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(
            f"consistency proof {first} -> {second} is too short to reach the root"
        )
    if fr != first_root:
        raise VerificationError(
            f"consistency proof {first} -> {second} does not reproduce the root of size {first}"
        )
    if sr != second_root:
        raise VerificationError(
            f"consistency proof {first} -> {second} does not reproduce the root of size {second}"
        )


def check_hash_sizes(hashes: Sequence[bytes], *, what: str) -> None:
    """Raise ``ValueError`` naming the first of ``hashes`` that is not :data:`HASH_SIZE` bytes."""
    for position, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise ValueError(f"{what} {position} is {len(value)} bytes, not {HASH_SIZE}")


def _hashes(count: int) -> str:
    return "1 hash" if count == 1 else f"{count} hashes"


def _verify_hash_size(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes], what: str) -> None:
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise VerificationError(
                f"{what}: hash {position} is {len(value)} bytes, not {HASH_SIZE}"
            )
