"""The compact range against the slow tree it replaces (Hypothesis), and its known shapes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import merkle, merkle_trees
from ledger.compact_range import CompactRange, frontier


def leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


def test_the_frontier_of_13_is_8_4_1() -> None:
    assert frontier(13) == [(3, 0), (2, 2), (0, 12)]
    assert frontier(0) == []


def test_an_empty_range_has_the_empty_root() -> None:
    assert CompactRange().root() == merkle.empty_root()


def test_it_rejects_a_wrong_number_of_subtree_hashes() -> None:
    with pytest.raises(ValueError, match="a tree of size 3 has 2 subtrees, not 1"):
        CompactRange(3, leaves(1))


@given(st.integers(min_value=0, max_value=300))
def test_its_root_and_subtrees_equal_the_memory_trees(n: int) -> None:
    tree = merkle_trees.MemoryTree(leaves(n))
    compact = CompactRange()
    completed = []
    for leaf in leaves(n):
        completed.extend(compact.append_leaf_hash(leaf))
    assert compact.size == n
    assert compact.root() == tree.root()
    assert compact.subtrees() == [
        (level, index, tree.perfect_hash(level, index)) for level, index in frontier(n)
    ]
    # Every completed perfect subtree is reported once, with its hash.
    expected = {
        (level, index, tree.perfect_hash(level, index))
        for level in range(n.bit_length())
        for index in range(n >> level)
    }
    assert len(completed) == len(expected)
    assert set(completed) == expected


@given(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=100))
def test_a_range_rebuilt_from_its_subtrees_extends_the_same_way(n: int, more: int) -> None:
    first = CompactRange()
    for leaf in leaves(n):
        first.append_leaf_hash(leaf)
    rebuilt = CompactRange(first.size, [h for _, _, h in first.subtrees()])
    assert rebuilt == first
    for leaf in leaves(n + more)[n:]:
        first.append_leaf_hash(leaf)
        rebuilt.append_leaf_hash(leaf)
    assert rebuilt.root() == first.root() == merkle.root_from_leaf_hashes(leaves(n + more))


@given(st.lists(st.binary(max_size=8), max_size=70), st.integers(min_value=0, max_value=70))
def test_extending_in_bulk_equals_appending_one_by_one(entries: list[bytes], split: int) -> None:
    one_by_one = CompactRange()
    for entry in entries:
        one_by_one.append_entry(entry)
    bulk = CompactRange()
    bulk.extend_entries(entries[:split])
    bulk.extend_entries(entries[split:])
    assert bulk == one_by_one
    assert bulk.root() == merkle_trees.MemoryTree.from_entries(entries).root()
