"""Merkle trees held in memory: :class:`MemoryTree`, built from leaf hashes, and
:class:`PagedTree`, the same built page by page from :func:`page_levels` (the offline
verifier's).

Both keep the hashes of all perfect subtrees, so they answer
:class:`~ledger.merkle_proofs.PerfectHashSource` lookups; :class:`MemoryTree` also makes proofs
(:mod:`ledger.merkle_proofs`). Hashing is :mod:`ledger.merkle`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ledger.merkle import HASH_SIZE, NODE_PREFIX, check_hash_sizes, empty_root, leaf_hash, node_hash
from ledger.merkle_proofs import consistency_proof, inclusion_proof, subtree_hash_from_perfect


class MemoryTree:
    """A Merkle tree held in memory as levels of perfect subtree hashes.

    ``levels[h][i]`` is the hash of the perfect subtree ``[i * 2**h, (i + 1) * 2**h)``; only
    complete subtrees are stored, so level ``h`` has ``size >> h`` hashes. Building costs one
    hash per leaf (a million leaves take about a second); any proof-shaped subtree hash costs
    ``O(log n)``.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        level = list(leaf_hashes)
        check_hash_sizes(level, what="leaf hash")
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


def _require_hash_size(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")
