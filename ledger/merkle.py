"""RFC 6962 / RFC 9162 Merkle tree: hashes, roots, inclusion and consistency proofs.

Hashing (RFC 9162 §2.1.1, SHA-256, identical to RFC 6962 §2.1)::

    MTH({})        = SHA-256()                          empty_root()
    MTH({d0})      = SHA-256(0x00 || d0)                leaf_hash(d0)
    MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))     node_hash(left, right)
                     where k is the largest power of two smaller than n

Proofs are lists of 32-byte hashes, ordered from the leaf (or the old tree) upwards:

* inclusion -- ``PATH(m, D[n])`` of RFC 9162 §2.1.3.1, checked per §2.1.3.2;
* consistency -- ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`` of RFC 9162 §2.1.4.1, checked per
  §2.1.4.2. Between sizes 0 and n, and between equal sizes, the proof is empty.

Proof generation reads hashes through a :class:`SubtreeHashSource` -- ``subtree_hash(start,
end)`` returning ``MTH(D[start:end])`` -- so the database can answer from stored hashes. The
ranges it asks for are always either a perfect aligned subtree
``[i * 2**h, (i + 1) * 2**h)`` or such a start running to the right edge of the tree; the helper
:func:`subtree_hash_from_perfect` assembles the latter from perfect subtrees only, and
:class:`MemoryTree` is an in-memory source built from leaf hashes; :class:`PagedTree` is
the same, built page by page from :func:`page_levels` (the offline verifier's).

Verification functions return ``None`` and raise :class:`~ledger.exceptions.VerificationError`
naming what failed (index out of range, wrong proof length, root mismatch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from ledger.exceptions import VerificationError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class SubtreeHashSource(Protocol):
    """Returns ``MTH(D[start:end])`` for ``0 <= start < end <= tree size``."""

    def __call__(self, start: int, end: int, /) -> bytes: ...


class PerfectHashSource(Protocol):
    """Returns the hash of the perfect subtree ``[index * 2**level, (index + 1) * 2**level)``."""

    def __call__(self, level: int, index: int, /) -> bytes: ...


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
    _check_hash_sizes(leaf_hashes, what="leaf hash")
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


def subtree_hash_from_perfect(*, start: int, end: int, perfect_hash: PerfectHashSource) -> bytes:
    """``MTH(D[start:end])`` assembled from perfect subtree hashes.

    A range that is itself a perfect aligned subtree costs one lookup; a range from an aligned
    start to the right edge of the tree costs ``O(log n)`` lookups and hashes.
    """
    if not 0 <= start < end:
        raise ValueError(f"subtree range [{start}, {end}) is empty or negative")
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return perfect_hash(level, start >> level)
    split = start + largest_power_of_two_below(size)
    return node_hash(
        subtree_hash_from_perfect(start=start, end=split, perfect_hash=perfect_hash),
        subtree_hash_from_perfect(start=split, end=end, perfect_hash=perfect_hash),
    )


def inclusion_proof(index: int, size: int, subtree_hash: SubtreeHashSource) -> list[bytes]:
    """``PATH(index, D[size])`` of RFC 9162 §2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is out of range for tree size {size}")
    top_down: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        split = start + largest_power_of_two_below(end - start)
        if index < split:
            top_down.append(subtree_hash(split, end))
            end = split
        else:
            top_down.append(subtree_hash(start, split))
            start = split
    return top_down[::-1]


def consistency_proof(first: int, second: int, subtree_hash: SubtreeHashSource) -> list[bytes]:
    """``PROOF(first, D[second])`` of RFC 9162 §2.1.4.1, old-tree side first.

    Empty when ``first`` is 0 or equals ``second``: there is nothing to prove.
    """
    if not 0 <= first <= second:
        raise ValueError(f"cannot prove tree size {first} consistent with size {second}")
    if first in (0, second):
        return []
    top_down: list[bytes] = []
    start, end = 0, second
    whole_old_tree = True  # the SUBPROOF flag b
    while first - start != end - start:
        split = start + largest_power_of_two_below(end - start)
        if first <= split:
            top_down.append(subtree_hash(split, end))
            end = split
        else:
            top_down.append(subtree_hash(start, split))
            start = split
            whole_old_tree = False
    if not whole_old_tree:
        top_down.append(subtree_hash(start, end))
    return top_down[::-1]


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


class MemoryTree:
    """A Merkle tree held in memory as levels of perfect subtree hashes.

    ``levels[h][i]`` is the hash of the perfect subtree ``[i * 2**h, (i + 1) * 2**h)``; only
    complete subtrees are stored, so level ``h`` has ``size >> h`` hashes. Building costs one
    hash per leaf (a million leaves take about a second); any proof-shaped subtree hash costs
    ``O(log n)``.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        level = list(leaf_hashes)
        _check_hash_sizes(level, what="leaf hash")
        self._levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self._levels.append(level)

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MemoryTree:
        """Build from raw entries (leaf inputs) rather than their leaf hashes."""
        return cls(leaf_hash(entry) for entry in entries)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, updating the perfect subtrees it completes."""
        _require_hash_size(leaf, "leaf hash")
        self._levels[0].append(leaf)
        height = 0
        while len(self._levels[height]) % 2 == 0:
            below = self._levels[height]
            if height + 1 == len(self._levels):
                self._levels.append([])
            self._levels[height + 1].append(node_hash(below[-2], below[-1]))
            height += 1

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise ValueError(f"leaf index {index} is out of range for tree size {self.size}")
        return self._levels[0][index]

    def perfect_hash(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree ``[index * 2**level, (index + 1) * 2**level)``."""
        if level < 0 or level >= len(self._levels) or not 0 <= index < len(self._levels[level]):
            raise ValueError(
                f"no complete subtree at level {level}, index {index} in tree size {self.size}"
            )
        return self._levels[level][index]

    def subtree_hash(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])``; usable as a :class:`SubtreeHashSource`."""
        if not 0 <= start < end <= self.size:
            raise ValueError(f"subtree range [{start}, {end}) is outside tree size {self.size}")
        return subtree_hash_from_perfect(start=start, end=end, perfect_hash=self.perfect_hash)

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: all of them)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")
        return self.subtree_hash(0, size) if size else empty_root()

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError(f"tree size {size} is larger than the {self.size} leaves held")
        return inclusion_proof(index, size, self.subtree_hash)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        second = self.size if second is None else second
        if second > self.size:
            raise ValueError(f"tree size {second} is larger than the {self.size} leaves held")
        return consistency_proof(first, second, self.subtree_hash)


def page_levels(leaf_hashes: list[bytes], start: int) -> list[bytes]:
    """The part of the Merkle tree inside a page whose first leaf is ``start``.

    Element ``h`` holds, concatenated, the hashes of the perfect subtrees of height ``h`` that lie
    inside the page: those numbered ``ceil(start / 2**h)`` on, as many as fit. (Element 0 is the
    leaf hashes.) The subtrees that span two pages are left to :class:`PagedTree`.
    """
    levels = [b"".join(leaf_hashes)]
    level, first = leaf_hashes, start
    sha256 = hashlib.sha256
    while True:
        low, high = (first + 1) >> 1, (first + len(level)) >> 1
        if high <= low:
            return levels
        skip = 2 * low - first  # a left sibling in the page before
        pairs = level[skip : skip + 2 * (high - low)]
        level = [
            sha256(NODE_PREFIX + a + b).digest()
            for a, b in zip(pairs[::2], pairs[1::2], strict=True)
        ]
        levels.append(b"".join(level))
        first = low


class PagedTree:
    """The recomputed Merkle tree, built page by page from :func:`page_levels`.

    Like :class:`MemoryTree` it holds the hashes of all perfect subtrees, level by
    level (``size >> h`` at height ``h``), here each level as one byte string.
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def add_page(self, page: Sequence[bytes]) -> None:
        """Append the next page's leaves and subtrees; hash the subtrees spanning pages."""
        start = self.size
        levels = self._levels
        levels[0] += page[0]
        height = 1
        while (complete := len(levels[height - 1]) // (2 * HASH_SIZE)) or height < len(page):
            if height == len(levels):
                levels.append(bytearray())
            level = levels[height]
            if height < len(page) and page[height]:
                first = -(-start >> height)  # the page's first subtree at this height
                self._hash_nodes(height, first)
                level += page[height]
            self._hash_nodes(height, complete)
            height += 1

    def _hash_nodes(self, height: int, end: int) -> None:
        """Hash this height's subtrees up to ``end`` from their children."""
        below, level = self._levels[height - 1], self._levels[height]
        for index in range(len(level) // HASH_SIZE, end):
            children = below[2 * index * HASH_SIZE : (2 * index + 2) * HASH_SIZE]
            level += hashlib.sha256(NODE_PREFIX + children).digest()

    def perfect_hash(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree ``[index * 2**level, (index + 1) * 2**level)``."""
        if not 0 <= level < len(self._levels) or not 0 <= index < self._count(level):
            raise ValueError(
                f"no complete subtree at level {level}, index {index} in tree size {self.size}"
            )
        offset = index * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def leaf_hash(self, index: int) -> bytes:
        return self.perfect_hash(0, index)

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: all of them)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")
        if not size:
            return empty_root()
        return subtree_hash_from_perfect(start=0, end=size, perfect_hash=self.perfect_hash)

    def _count(self, level: int) -> int:
        return len(self._levels[level]) // HASH_SIZE


def _hashes(count: int) -> str:
    return "1 hash" if count == 1 else f"{count} hashes"


def _verify_hash_size(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def _require_hash_size(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def _check_hash_sizes(hashes: Sequence[bytes], *, what: str) -> None:
    for position, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise ValueError(f"{what} {position} is {len(value)} bytes, not {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes], what: str) -> None:
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise VerificationError(
                f"{what}: hash {position} is {len(value)} bytes, not {HASH_SIZE}"
            )
