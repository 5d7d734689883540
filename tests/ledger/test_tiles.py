"""C2SP tlog-tiles paths, tile contents and entry bundles.

Path cases are ported from transparency-dev/trillian-tessera ``api/layout/paths_test.go``
(TestEntriesPathForLogIndex, TestEntriesPath, TestTilePath, TestParseTileLevelIndexWidth).
Tessera derives the partial width from a log size; here the width is explicit, and
``tile_width_for_size`` is tested separately on the cases where a tile exists. Size examples
come from C2SP ``tlog-tiles.md``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.merkle import leaf_hash
from ledger.merkle_trees import MemoryTree
from ledger.tiles import (
    ENTRIES,
    MAX_TILE_INDEX,
    TILE_WIDTH,
    TileRef,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    format_tile_index,
    parse_tile_path,
    split_tile,
    tile_hashes,
    tile_path,
    tile_ref_for_size,
    tile_width_for_size,
)

MAX_UINT64 = 2**64 - 1


class TestTesseraPaths:
    @pytest.mark.parametrize(
        ("seq", "log_size", "expected"),
        [
            (0, 256, "tile/entries/000"),
            (255, 256, "tile/entries/000"),
            (251, 255, "tile/entries/000.p/255"),
            (256, 512, "tile/entries/001"),
            (256, 257, "tile/entries/001.p/1"),
            (123456789 * 256, 123456790 * 256, "tile/entries/x123/x456/789"),
        ],
    )
    def test_it_finds_the_entry_bundle_of_a_log_index(
        self, seq: int, log_size: int, expected: str
    ) -> None:
        ref = tile_ref_for_size(level=ENTRIES, index=seq // TILE_WIDTH, tree_size=log_size)
        assert ref.path == expected

    @pytest.mark.parametrize(
        ("index", "log_size", "expected"),
        [
            (0, 289, "tile/entries/000"),
            (0, 8, "tile/entries/000.p/8"),
            (255, 256 * 256, "tile/entries/255"),
            (256, 257 * 256, "tile/entries/256"),
            (123456789000, MAX_UINT64, "tile/entries/x123/x456/x789/000"),
        ],
    )
    def test_it_writes_entry_bundle_paths(self, index: int, log_size: int, expected: str) -> None:
        width = tile_width_for_size(level=0, index=index, tree_size=log_size)
        assert entries_path(index=index, width=width) == expected

    def test_it_refuses_a_bundle_that_does_not_exist_at_that_size(self) -> None:
        # Tessera writes "tile/entries/255.p/253" for N=255, size 255*256-3; that bundle is
        # empty (bundle 254 is the partial one), and the spec says empty tiles are not served.
        with pytest.raises(ValueError, match="empty"):
            tile_width_for_size(level=0, index=255, tree_size=255 * 256 - 3)
        assert tile_width_for_size(level=0, index=254, tree_size=255 * 256 - 3) == 253

    @pytest.mark.parametrize(
        ("level", "index", "width", "expected"),
        [
            (0, 0, 256, "tile/0/000"),
            (0, 0, 255, "tile/0/000.p/255"),
            (1, 0, 256, "tile/1/000"),
            (1, 0, 1, "tile/1/000.p/1"),
            (1, 0, 4, "tile/1/000.p/4"),
            (15, 455667, 256, "tile/15/x455/667"),
            (3, 1234567, 256, "tile/3/x001/x234/567"),
            (15, 123456789, 256, "tile/15/x123/x456/789"),
        ],
    )
    def test_it_writes_tile_paths(self, level: int, index: int, width: int, expected: str) -> None:
        assert tile_path(level=level, index=index, width=width) == expected

    @pytest.mark.parametrize(
        ("level", "index", "log_size", "width"),
        [
            (0, 0, 256, 256),
            (0, 0, 255, 255),
            (1, 0, MAX_UINT64, 256),
            (1, 0, 256, 1),
            (1, 0, 1024, 4),
        ],
    )
    def test_it_derives_tile_widths_from_the_tree_size(
        self, level: int, index: int, log_size: int, width: int
    ) -> None:
        assert tile_width_for_size(level=level, index=index, tree_size=log_size) == width

    def test_it_refuses_a_tile_of_an_empty_tree(self) -> None:
        # Tessera writes "tile/0/000" for size 0; no tile exists then.
        with pytest.raises(ValueError, match="empty"):
            tile_width_for_size(level=0, index=0, tree_size=0)

    @pytest.mark.parametrize(
        ("level", "index", "expected"),
        [
            ("0", "x001/x234/067", TileRef(level=0, index=1234067)),
            ("0", "x001/x234/067.p/89", TileRef(level=0, index=1234067, width=89)),
            (
                "63",
                "x999/x999/x999/x999/x999/999.p/255",
                TileRef(level=63, index=999999999999999999, width=255),
            ),
            ("0", "001", TileRef(level=0, index=1)),
        ],
    )
    def test_it_parses_tessera_s_valid_paths(
        self, level: str, index: str, expected: TileRef
    ) -> None:
        assert parse_tile_path(f"tile/{level}/{index}") == expected

    @pytest.mark.parametrize(
        ("level", "index"),
        [
            ("0", "x001/x234/067.p/"),
            ("0", "x001/x234/067.p"),
            ("0", "x001/x234/"),
            ("0", "x001/x234"),
            ("0", "x001/"),
            ("0", "x001"),
            ("1", "x001/.p/abc"),
            ("64", "x001/002"),
            ("-1", "x001/002"),
            ("abc", "x001/002"),
            ("8", "001/002"),
            ("8", "x001/0002"),
            ("8", "x001/-002"),
            ("8", "x001/002.p/256"),
        ],
    )
    def test_it_rejects_tessera_s_invalid_paths(self, level: str, index: str) -> None:
        with pytest.raises(ValueError, match="tile"):
            parse_tile_path(f"tile/{level}/{index}")


class TestSpec:
    def test_it_encodes_the_spec_s_example_index(self) -> None:
        assert format_tile_index(1234067) == "x001/x234/067"
        assert format_tile_index(0) == "000"
        assert format_tile_index(1000) == "x001/000"
        assert format_tile_index(MAX_TILE_INDEX) == "x018/x446/x744/x073/x709/x551/615"

    def test_a_tree_of_70000_has_the_tiles_the_spec_lists(self) -> None:
        size = 70_000
        assert tile_width_for_size(level=0, index=272, tree_size=size) == TILE_WIDTH
        assert tile_width_for_size(level=0, index=273, tree_size=size) == 112
        assert tile_width_for_size(level=1, index=0, tree_size=size) == TILE_WIDTH
        assert tile_width_for_size(level=1, index=1, tree_size=size) == 17
        assert tile_width_for_size(level=2, index=0, tree_size=size) == 1
        with pytest.raises(ValueError, match="empty"):
            tile_width_for_size(level=0, index=274, tree_size=size)
        with pytest.raises(ValueError, match="empty"):
            tile_width_for_size(level=3, index=0, tree_size=size)

    def test_a_tree_of_256_has_a_full_tile_and_a_partial_tile_above_it(self) -> None:
        assert tile_ref_for_size(level=0, index=0, tree_size=256).path == "tile/0/000"
        assert tile_ref_for_size(level=1, index=0, tree_size=256).path == "tile/1/000.p/1"
        assert tile_ref_for_size(level=ENTRIES, index=0, tree_size=256).path == "tile/entries/000"

    @pytest.mark.parametrize(
        "path",
        [
            "/tile/0/000",
            "tile/0/000/",
            "tiles/0/000",
            "tile/00/000",
            "tile/+1/000",
            "tile/0/x000/001",
            "tile/0/x000/x001/002",
            "tile/0/000.p/0",
            "tile/0/000.p/00",
            "tile/0/000.p/08",
            "tile/0/000.p/+8",
            "tile/0/000.p/1000",
            "tile/0/000.p/8/",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/X001/000",
            "tile/0/\uff10\uff10\uff10",
            "tile/0/\u0661\u0662\u0663",
            "tile/entries/000.p/256",
            "tile/entries",
            "tile/Entries/000",
            "tile/entries/x001",
            "tile/data/000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/000\n",
        ],
    )
    def test_it_rejects_non_canonical_or_malformed_paths(self, path: str) -> None:
        with pytest.raises(ValueError, match="tile"):
            parse_tile_path(path)

    def test_it_parses_entry_bundle_paths(self) -> None:
        assert parse_tile_path("tile/entries/x001/x234/067.p/89") == TileRef(
            level=ENTRIES, index=1234067, width=89
        )
        assert parse_tile_path("tile/entries/000") == TileRef(level=ENTRIES, index=0)

    def test_it_parses_the_largest_index(self) -> None:
        path = "tile/0/x018/x446/x744/x073/x709/x551/615"
        assert parse_tile_path(path).index == MAX_TILE_INDEX

    @pytest.mark.parametrize(
        ("level", "index", "width"),
        [(64, 0, 256), (-1, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257), (0, 2**64, 256)],
    )
    def test_it_refuses_to_write_impossible_tiles(self, level: int, index: int, width: int) -> None:
        with pytest.raises(ValueError, match="tile"):
            tile_path(level=level, index=index, width=width)

    @given(
        level=st.one_of(st.integers(min_value=0, max_value=63), st.just(ENTRIES)),
        index=st.integers(min_value=0, max_value=MAX_TILE_INDEX),
        width=st.integers(min_value=1, max_value=TILE_WIDTH),
    )
    def test_every_written_path_parses_back_to_its_tile(
        self, level: int | str, index: int, width: int
    ) -> None:
        ref = TileRef(level=level, index=index, width=width)  # type: ignore[arg-type]
        assert parse_tile_path(ref.path) == ref
        assert ref.is_partial == (width < TILE_WIDTH)


class TestTileContents:
    def test_level_zero_tiles_hold_leaf_hashes(self) -> None:
        tree = MemoryTree.from_entries(i.to_bytes(2, "big") for i in range(300))
        full = tile_hashes(level=0, index=0, width=256, perfect_hash=tree.perfect_hash)
        assert split_tile(full) == [tree.leaf_hash(i) for i in range(256)]
        partial = tile_hashes(level=0, index=1, width=44, perfect_hash=tree.perfect_hash)
        assert split_tile(partial) == [tree.leaf_hash(i) for i in range(256, 300)]

    def test_level_one_tiles_hold_roots_of_full_level_zero_tiles(self) -> None:
        tree = MemoryTree.from_entries(i.to_bytes(4, "big") for i in range(70_000))
        width = tile_width_for_size(level=1, index=1, tree_size=tree.size)
        hashes = split_tile(
            tile_hashes(level=1, index=1, width=width, perfect_hash=tree.perfect_hash)
        )
        assert len(hashes) == 17
        for i, digest in enumerate(hashes):
            start = (256 + i) * 256
            assert digest == tree.subtree_hash(start, start + 256)

    @pytest.mark.parametrize("size", [0, 31, 33, 256 * 32 + 32])
    def test_it_rejects_tile_data_that_is_not_1_to_256_hashes(self, size: int) -> None:
        with pytest.raises(ValueError, match=r"not 1\.\.256 hashes"):
            split_tile(bytes(size))


class TestEntryBundles:
    def test_it_prefixes_each_entry_with_a_big_endian_uint16_length(self) -> None:
        bundle = encode_entry_bundle([b"", b"a", b"bc", b"x" * 258])
        assert bundle == b"\x00\x00" + b"\x00\x01a" + b"\x00\x02bc" + b"\x01\x02" + b"x" * 258
        assert decode_entry_bundle(bundle) == [b"", b"a", b"bc", b"x" * 258]

    def test_an_empty_bundle_has_no_bytes(self) -> None:
        assert encode_entry_bundle([]) == b""
        assert decode_entry_bundle(b"") == []

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (b"\x00", "inside the length of entry 0"),
            (b"\x00\x01a\x00", "inside the length of entry 1"),
            (b"\x00\x02a", "inside entry 0"),
            (b"\x00\x00" * 257, "more than 256 entries"),
        ],
    )
    def test_it_rejects_truncated_or_oversized_bundles(self, data: bytes, reason: str) -> None:
        with pytest.raises(ValueError, match=reason):
            decode_entry_bundle(data)

    def test_it_refuses_entries_longer_than_a_uint16(self) -> None:
        assert decode_entry_bundle(encode_entry_bundle([b"x" * 0xFFFF])) == [b"x" * 0xFFFF]
        with pytest.raises(ValueError, match="65536 bytes"):
            encode_entry_bundle([b"x" * 0x10000])

    def test_it_refuses_more_than_256_entries(self) -> None:
        with pytest.raises(ValueError, match="at most 256"):
            encode_entry_bundle([b""] * 257)

    @given(st.lists(st.binary(max_size=300), max_size=TILE_WIDTH))
    def test_a_bundle_survives_a_round_trip(self, entries: list[bytes]) -> None:
        assert decode_entry_bundle(encode_entry_bundle(entries)) == entries

    def test_bundle_entries_hash_to_the_level_zero_tile(self) -> None:
        entries = [f"entry {i}".encode() for i in range(10)]
        tree = MemoryTree.from_entries(entries)
        tile = tile_hashes(level=0, index=0, width=10, perfect_hash=tree.perfect_hash)
        decoded = decode_entry_bundle(encode_entry_bundle(entries))
        assert split_tile(tile) == [leaf_hash(entry) for entry in decoded]
