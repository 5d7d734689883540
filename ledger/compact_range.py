"""The compact range of an append-only Merkle tree: the hashes of the perfect subtrees along its
right edge, enough to extend the tree and compute its root without any other stored hash.

For a tree of ``size`` leaves (RFC 9162 §2.1.1 hashing), write ``size`` in binary: each set bit
``h`` is one perfect subtree of ``2**h`` leaves, largest (leftmost) first::

    size 13 = 0b1101  ->  [0, 8) level 3,  [8, 12) level 2,  [12, 13) level 0

Appending a leaf adds a level-0 subtree and merges equal levels as a binary counter carries;
each merge completes a perfect subtree ``(level, index)`` whose hash a store may keep. The root
folds the subtrees from the right: ``root = node_hash(s0, node_hash(s1, ... node_hash(sk-1,
sk)))``. This is the "compact range" of transparency-dev/merkle (``compact.Range``) restricted
to ranges that start at 0.

Pure: no Django, no database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from ledger.merkle import HASH_SIZE, LEAF_PREFIX, NODE_PREFIX, empty_root, leaf_hash, node_hash


def frontier(size: int) -> list[tuple[int, int]]:
    """The ``(level, index)`` of the perfect subtrees that make up ``[0, size)``, left to right."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    return [
        (level, (size >> level) - 1)
        for level in range(size.bit_length() - 1, -1, -1)
        if size >> level & 1
    ]


class CompactRange:
    """``[0, size)`` as the hashes of its right-edge perfect subtrees (see the module doc)."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        values = list(hashes)
        if len(values) != len(frontier(size)):
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} subtrees, not {len(values)}"
            )
        if any(len(v) != HASH_SIZE for v in values):
            raise ValueError(f"every subtree hash must be {HASH_SIZE} bytes")
        self._size = size
        self._hashes = values

    @property
    def size(self) -> int:
        return self._size

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self._hashes)

    def subtrees(self) -> list[tuple[int, int, bytes]]:
        """``(level, index, hash)`` of each right-edge perfect subtree, left to right."""
        return [(lv, ix, h) for (lv, ix), h in zip(frontier(self._size), self._hashes, strict=True)]

    def append_leaf_hash(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; return the perfect subtrees it completes, ``(level, index, hash)``,
        the leaf itself (level 0) first."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes")
        position = self._size
        completed = [(0, position, leaf)]
        value, level = leaf, 0
        # The lowest set bits of the old size are the subtrees that merge with the new leaf.
        while position >> level & 1:
            value = node_hash(self._hashes.pop(), value)
            level += 1
            completed.append((level, position >> level, value))
        self._hashes.append(value)
        self._size += 1
        return completed

    def append_entry(self, entry: bytes) -> list[tuple[int, int, bytes]]:
        """:meth:`append_leaf_hash` of ``leaf_hash(entry)``."""
        return self.append_leaf_hash(leaf_hash(entry))

    def extend_entries(self, entries: Iterable[bytes]) -> None:
        """:meth:`append_entry` for many entries, without reporting the completed subtrees:
        the fast path of a recomputation (two SHA-256 a leaf on average, nothing else)."""
        hashes, size = self._hashes, self._size
        sha256 = hashlib.sha256
        for entry in entries:
            value = sha256(LEAF_PREFIX + entry).digest()
            position = size
            while position & 1:
                value = sha256(NODE_PREFIX + hashes.pop() + value).digest()
                position >>= 1
            hashes.append(value)
            size += 1
        self._size = size

    def root(self) -> bytes:
        """``MTH(D[0:size])``."""
        if not self._hashes:
            return empty_root()
        value = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            value = node_hash(left, value)
        return value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __hash__(self) -> int:
        return hash((self._size, tuple(self._hashes)))

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size})"
