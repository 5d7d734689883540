"""Making RFC 6962 / RFC 9162 inclusion and consistency proofs (checking them is
:mod:`ledger.merkle`, which also describes their form).

Proof generation reads hashes through a :class:`SubtreeHashSource` -- ``subtree_hash(start,
end)`` returning ``MTH(D[start:end])`` -- so the database can answer from stored hashes. The
ranges it asks for are always either a perfect aligned subtree
``[i * 2**h, (i + 1) * 2**h)`` or such a start running to the right edge of the tree; the helper
:func:`subtree_hash_from_perfect` assembles the latter from perfect subtrees only (a
:class:`PerfectHashSource`). :mod:`ledger.merkle_trees` holds trees in memory that are such
sources.
"""

from __future__ import annotations

from typing import Protocol

from ledger.merkle import largest_power_of_two_below, node_hash


class SubtreeHashSource(Protocol):
    """Returns ``MTH(D[start:end])`` for ``0 <= start < end <= tree size``."""

    def __call__(self, start: int, end: int, /) -> bytes: ...


class PerfectHashSource(Protocol):
    """Returns the hash of the perfect subtree ``[index * 2**level, (index + 1) * 2**level)``."""

    def __call__(self, level: int, index: int, /) -> bytes: ...


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
