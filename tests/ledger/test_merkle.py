"""RFC 6962 / RFC 9162 Merkle tree: known answers, tampered proofs, and properties.

Known-answer vectors come from https://github.com/transparency-dev/merkle:

* ``vectors/rfc6962_known_answers.json`` -- ``testonly/constants.go`` (leaf inputs, node hashes,
  roots for sizes 0..8) and ``proof/verify_test.go`` (inclusion and consistency proofs);
* ``vectors/transparency_dev_merkle_testdata.json`` -- files of ``testdata/inclusion/`` and
  ``testdata/consistency/``, copied verbatim (each case names its file).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.exceptions import VerificationError
from ledger.merkle import (
    HASH_SIZE,
    consistency_proof_length,
    empty_root,
    inclusion_proof_length,
    largest_power_of_two_below,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from ledger.merkle_proofs import consistency_proof, inclusion_proof, subtree_hash_from_perfect
from ledger.merkle_trees import MemoryTree

VECTORS = Path(__file__).parent / "vectors"
KNOWN = json.loads((VECTORS / "rfc6962_known_answers.json").read_text())
TESTDATA = json.loads((VECTORS / "transparency_dev_merkle_testdata.json").read_text())
LEAF_INPUTS = [bytes.fromhex(leaf) for leaf in KNOWN["leaf_inputs"]]
ROOTS = [bytes.fromhex(root) for root in KNOWN["roots"]]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def tree_of(size: int) -> MemoryTree:
    return MemoryTree.from_entries(i.to_bytes(4, "big") for i in range(size))


@cache
def cached_tree(size: int) -> MemoryTree:
    return tree_of(size)


def unhex(hashes: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


def unbase64(hashes: Sequence[str] | None) -> list[bytes]:
    return [base64.b64decode(h) for h in hashes or []]


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# Reference definitions written straight from RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1.


def reference_mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return empty_root()
    if len(leaves) == 1:
        return leaves[0]
    k = largest_power_of_two_below(len(leaves))
    return node_hash(reference_mth(leaves[:k]), reference_mth(leaves[k:]))


def reference_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = largest_power_of_two_below(len(leaves))
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_mth(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_mth(leaves[:k])]


def reference_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [reference_mth(leaves)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*reference_subproof(m, leaves[:k], whole), reference_mth(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), reference_mth(leaves[:k])]


class TestKnownAnswers:
    def test_the_empty_root_is_the_sha256_of_nothing(self) -> None:
        assert empty_root() == ROOTS[0]

    @pytest.mark.parametrize("size", range(9))
    def test_it_computes_the_root_of_every_size_from_0_to_8(self, size: int) -> None:
        leaves = [leaf_hash(data) for data in LEAF_INPUTS[:size]]
        assert root_from_leaf_hashes(leaves) == ROOTS[size]
        assert MemoryTree(leaves).root() == ROOTS[size]
        assert MemoryTree.from_entries(LEAF_INPUTS).root(size) == ROOTS[size]

    def test_it_computes_every_perfect_subtree_hash_of_the_eight_leaf_tree(self) -> None:
        tree = MemoryTree.from_entries(LEAF_INPUTS)
        for level, hashes in enumerate(KNOWN["node_hashes"]):
            for index, expected in enumerate(hashes):
                assert tree.perfect_hash(level, index).hex() == expected

    @pytest.mark.parametrize(
        "case", KNOWN["inclusion_proofs"], ids=lambda c: f"{c['index']}-of-{c['size']}"
    )
    def test_it_generates_and_verifies_the_known_inclusion_proofs(
        self, case: dict[str, Any]
    ) -> None:
        tree = MemoryTree.from_entries(LEAF_INPUTS)
        index, size, expected = case["index"], case["size"], unhex(case["proof"])
        assert tree.inclusion_proof(index, size) == expected
        verify_inclusion(
            index=index,
            size=size,
            leaf_hash=leaf_hash(LEAF_INPUTS[index]),
            proof=expected,
            root=ROOTS[size],
        )

    @pytest.mark.parametrize(
        "case", KNOWN["consistency_proofs"], ids=lambda c: f"{c['first']}-to-{c['second']}"
    )
    def test_it_generates_and_verifies_the_known_consistency_proofs(
        self, case: dict[str, Any]
    ) -> None:
        tree = MemoryTree.from_entries(LEAF_INPUTS)
        first, second, expected = case["first"], case["second"], unhex(case["proof"])
        assert tree.consistency_proof(first, second) == expected
        verify_consistency(
            first=first,
            second=second,
            first_root=ROOTS[first],
            second_root=ROOTS[second],
            proof=expected,
        )


class TestTransparencyDevTestdata:
    @pytest.mark.parametrize("case", TESTDATA["inclusion"], ids=lambda c: c["file"])
    def test_it_accepts_exactly_the_valid_inclusion_cases(self, case: dict[str, Any]) -> None:
        def verify() -> None:
            verify_inclusion(
                index=case["leafIdx"],
                size=case["treeSize"],
                leaf_hash=base64.b64decode(case["leafHash"]),
                proof=unbase64(case["proof"]),
                root=base64.b64decode(case["root"]),
            )

        if case["wantErr"]:
            with pytest.raises(VerificationError):
                verify()
        else:
            verify()

    @pytest.mark.parametrize("case", TESTDATA["consistency"], ids=lambda c: c["file"])
    def test_it_accepts_exactly_the_valid_consistency_cases(self, case: dict[str, Any]) -> None:
        def verify() -> None:
            verify_consistency(
                first=case["size1"],
                second=case["size2"],
                first_root=base64.b64decode(case["root1"]),
                second_root=base64.b64decode(case["root2"]),
                proof=unbase64(case["proof"]),
            )

        if case["wantErr"]:
            with pytest.raises(VerificationError):
                verify()
        else:
            verify()


class TestEdgeCases:
    """Adapted from TestVerifyInclusion*, TestVerifyConsistency in proof/verify_test.go."""

    def test_a_single_entry_tree_has_an_empty_proof_and_its_leaf_as_root(self) -> None:
        digest = leaf_hash(b"data")
        verify_inclusion(index=0, size=1, leaf_hash=digest, proof=[], root=digest)
        for leaf, root in [(digest, b""), (b"", digest), (b"", b"")]:
            with pytest.raises(VerificationError):
                verify_inclusion(index=0, size=1, leaf_hash=leaf, proof=[], root=root)

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
    def test_it_rejects_an_empty_proof_against_a_wrong_root_or_index(
        self, index: int, size: int
    ) -> None:
        for leaf, root in [(SOME_HASH, b""), (b"", empty_root()), (SOME_HASH, empty_root())]:
            with pytest.raises(VerificationError):
                verify_inclusion(index=index, size=size, leaf_hash=leaf, proof=[], root=root)

    def test_it_names_the_entry_whose_proof_does_not_reach_the_root(self) -> None:
        tree = tree_of(57)
        proof = tree.inclusion_proof(41)
        with pytest.raises(VerificationError, match=r"^entry 41: inclusion proof does not reach"):
            verify_inclusion(
                index=41, size=57, leaf_hash=tree.leaf_hash(40), proof=proof, root=tree.root()
            )

    def test_it_reports_an_index_out_of_range(self) -> None:
        with pytest.raises(VerificationError, match="entry 8: index is out of range"):
            verify_inclusion(index=8, size=8, leaf_hash=SOME_HASH, proof=[], root=SOME_HASH)

    def test_it_reports_a_proof_of_the_wrong_length(self) -> None:
        with pytest.raises(VerificationError, match="has 2 hashes; a tree of size 8 needs 3"):
            verify_inclusion(
                index=0, size=8, leaf_hash=SOME_HASH, proof=[SOME_HASH] * 2, root=SOME_HASH
            )

    @pytest.mark.parametrize(
        ("first", "second", "same_roots"),
        [(0, 0, True), (1, 1, True), (0, 1, False), (5, 5, True)],
    )
    def test_trivially_consistent_sizes_need_an_empty_proof(
        self, first: int, second: int, same_roots: bool
    ) -> None:
        tree = tree_of(second)
        first_root = tree.root(first)
        second_root = first_root if same_roots else tree.root(second)
        verify_consistency(
            first=first, second=second, first_root=first_root, second_root=second_root, proof=[]
        )
        with pytest.raises(VerificationError, match="it needs 0"):
            verify_consistency(
                first=first,
                second=second,
                first_root=first_root,
                second_root=second_root,
                proof=[empty_root()],
            )

    @pytest.mark.parametrize("size", [0, 1, 6])
    def test_it_rejects_two_different_roots_for_one_size(self, size: int) -> None:
        with pytest.raises(VerificationError, match="two different roots"):
            verify_consistency(
                first=size, second=size, first_root=empty_root(), second_root=SOME_HASH, proof=[]
            )

    def test_it_rejects_a_size_zero_tree_whose_root_is_not_the_empty_root(self) -> None:
        with pytest.raises(VerificationError, match="size 0"):
            verify_consistency(
                first=0, second=1, first_root=SOME_HASH, second_root=ROOTS[1], proof=[]
            )

    @pytest.mark.parametrize(("first", "second"), [(1, 0), (2, 1), (8, 3)])
    def test_it_rejects_a_log_that_shrinks(self, first: int, second: int) -> None:
        with pytest.raises(VerificationError, match="cannot shrink"):
            verify_consistency(
                first=first, second=second, first_root=SOME_HASH, second_root=SOME_HASH, proof=[]
            )

    def test_it_rejects_an_empty_proof_between_different_sizes(self) -> None:
        tree = tree_of(2)
        with pytest.raises(VerificationError, match="has 0 hashes; it needs 1"):
            verify_consistency(
                first=1, second=2, first_root=tree.root(1), second_root=tree.root(2), proof=[]
            )

    def test_it_refuses_to_generate_proofs_for_impossible_ranges(self) -> None:
        tree = tree_of(4)
        with pytest.raises(ValueError, match="out of range"):
            inclusion_proof(4, 4, tree.subtree_hash)
        with pytest.raises(ValueError, match="out of range"):
            inclusion_proof(0, 0, tree.subtree_hash)
        with pytest.raises(ValueError, match="cannot prove"):
            consistency_proof(3, 2, tree.subtree_hash)
        assert consistency_proof(0, 4, tree.subtree_hash) == []
        assert consistency_proof(4, 4, tree.subtree_hash) == []

    def test_it_rejects_leaf_hashes_of_the_wrong_size(self) -> None:
        with pytest.raises(ValueError, match="leaf hash 1 is 3 bytes"):
            root_from_leaf_hashes([SOME_HASH, b"abc"])
        with pytest.raises(ValueError, match="leaf hash is 31 bytes"):
            MemoryTree().append(SOME_HASH[:31])


class TestAgainstTheRfcDefinitions:
    @pytest.mark.parametrize("size", range(1, 70))
    def test_every_root_and_inclusion_proof_matches_the_recursive_definition(
        self, size: int
    ) -> None:
        tree = cached_tree(size)
        leaves = [tree.leaf_hash(i) for i in range(size)]
        assert tree.root() == reference_mth(leaves) == root_from_leaf_hashes(leaves)
        for index in range(size):
            proof = tree.inclusion_proof(index)
            assert proof == reference_path(index, leaves)
            assert len(proof) == inclusion_proof_length(index=index, size=size)

    @pytest.mark.parametrize("second", range(1, 70))
    def test_every_consistency_proof_matches_the_recursive_definition(self, second: int) -> None:
        tree = cached_tree(second)
        leaves = [tree.leaf_hash(i) for i in range(second)]
        for first in range(1, second):
            proof = tree.consistency_proof(first, second)
            assert proof == reference_subproof(first, leaves, True)
            assert len(proof) == consistency_proof_length(first=first, second=second)

    @pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 31, 64, 100])
    def test_right_edge_subtrees_match_the_recursive_definition(self, size: int) -> None:
        tree = cached_tree(size)
        leaves = [tree.leaf_hash(i) for i in range(size)]
        for start in range(size):
            aligned = start & -start if start else 1 << size.bit_length()
            if size - start <= aligned:
                expected = reference_mth(leaves[start:size])
                assert tree.subtree_hash(start, size) == expected
                assert (
                    subtree_hash_from_perfect(start=start, end=size, perfect_hash=tree.perfect_hash)
                    == expected
                )


class TestProperties:
    @given(st.data(), st.integers(min_value=1, max_value=300))
    @settings(max_examples=60, deadline=None)
    def test_every_generated_inclusion_proof_verifies(self, data: st.DataObject, size: int) -> None:
        tree = cached_tree(size)
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        verify_inclusion(
            index=index,
            size=size,
            leaf_hash=tree.leaf_hash(index),
            proof=tree.inclusion_proof(index),
            root=tree.root(),
        )

    @given(st.data(), st.integers(min_value=1, max_value=300))
    @settings(max_examples=60, deadline=None)
    def test_every_generated_consistency_proof_verifies(
        self, data: st.DataObject, second: int
    ) -> None:
        tree = cached_tree(second)
        first = data.draw(st.integers(min_value=0, max_value=second))
        verify_consistency(
            first=first,
            second=second,
            first_root=tree.root(first),
            second_root=tree.root(second),
            proof=tree.consistency_proof(first, second),
        )

    @given(st.data(), st.integers(min_value=1, max_value=300), st.integers(min_value=0))
    @settings(max_examples=100, deadline=None)
    def test_it_rejects_an_inclusion_proof_with_a_flipped_bit(
        self, data: st.DataObject, size: int, bit: int
    ) -> None:
        tree = cached_tree(size)
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        leaf, proof, root = tree.leaf_hash(index), tree.inclusion_proof(index), tree.root()
        targets = ["leaf", "root", "proof"] if proof else ["leaf", "root"]
        target = data.draw(st.sampled_from(targets))
        if target == "leaf":
            leaf = flip(leaf, bit)
        elif target == "root":
            root = flip(root, bit)
        else:
            position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
            proof[position] = flip(proof[position], bit)
        with pytest.raises(VerificationError):
            verify_inclusion(index=index, size=size, leaf_hash=leaf, proof=proof, root=root)

    @given(st.data(), st.integers(min_value=2, max_value=300), st.integers(min_value=0))
    @settings(max_examples=100, deadline=None)
    def test_it_rejects_a_consistency_proof_with_a_flipped_bit(
        self, data: st.DataObject, second: int, bit: int
    ) -> None:
        tree = cached_tree(second)
        first = data.draw(st.integers(min_value=1, max_value=second - 1))
        first_root, second_root = tree.root(first), tree.root(second)
        proof = tree.consistency_proof(first, second)
        target = data.draw(st.sampled_from(["first root", "second root", "proof"]))
        if target == "first root":
            first_root = flip(first_root, bit)
        elif target == "second root":
            second_root = flip(second_root, bit)
        else:
            position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
            proof[position] = flip(proof[position], bit)
        with pytest.raises(VerificationError):
            verify_consistency(
                first=first,
                second=second,
                first_root=first_root,
                second_root=second_root,
                proof=proof,
            )

    @given(st.data(), st.integers(min_value=2, max_value=300))
    @settings(max_examples=50, deadline=None)
    def test_it_rejects_a_proof_for_another_index(self, data: st.DataObject, size: int) -> None:
        tree = cached_tree(size)
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index))
        with pytest.raises(VerificationError):
            verify_inclusion(
                index=other,
                size=size,
                leaf_hash=tree.leaf_hash(index),
                proof=tree.inclusion_proof(index),
                root=tree.root(),
            )

    @given(st.integers(min_value=0, max_value=300))
    @settings(max_examples=30, deadline=None)
    def test_appending_leaves_one_by_one_builds_the_same_tree(self, size: int) -> None:
        whole = cached_tree(size)
        grown = MemoryTree()
        roots = [grown.root()]
        for index in range(size):
            grown.append(whole.leaf_hash(index))
            roots.append(grown.root())
        assert roots == [whole.root(n) for n in range(size + 1)]
        assert [grown.root(n) for n in range(size + 1)] == roots


def test_a_million_leaf_tree_is_built_and_proved() -> None:
    # How fast is measured by `make bench BENCH=ledger_proofs`, not asserted here.
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(1_000_000)]
    tree = MemoryTree(leaves)
    root = tree.root()
    for index in (0, 123_456, 999_999):
        verify_inclusion(
            index=index,
            size=tree.size,
            leaf_hash=leaves[index],
            proof=tree.inclusion_proof(index),
            root=root,
        )
    verify_consistency(
        first=777_777,
        second=tree.size,
        first_root=tree.root(777_777),
        second_root=root,
        proof=tree.consistency_proof(777_777),
    )
    assert len(root) == HASH_SIZE
