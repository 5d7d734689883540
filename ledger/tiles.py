"""C2SP tlog-tiles (https://c2sp.org/tlog-tiles): tile paths, tile contents, entry bundles.

Tiles have height 8 (width 256). Resource paths, relative to the log's URL prefix::

    tile/<L>/<N>[.p/<W>]          Merkle tree hashes, level L in 0..63
    tile/entries/<N>[.p/<W>]      entry bundle

``<N>`` is the tile index as zero-padded 3-digit path elements, all but the last prefixed with
``x``: 1234067 is ``x001/x234/067``, 5 is ``005``. ``.p/<W>`` marks a partial tile of width
``W`` in 1..255; a full tile has no suffix. Numbers never have extra leading zeros.

Tile ``N`` at level ``L`` is the concatenation of 256 (or ``W``) 32-byte hashes, hash ``i`` being
``MTH(D[(N * 256 + i) * 256**L : (N * 256 + i + 1) * 256**L])`` -- the perfect subtree at Merkle
level ``8 * L`` with index ``N * 256 + i``.

An entry bundle is its entries back to back, each behind a big-endian uint16 length::

    uint16 len(e0) || e0 || uint16 len(e1) || e1 || ...

:func:`parse_tile_path` accepts only the canonical form that :func:`tile_path` and
:func:`entries_path` write, and raises ``ValueError`` for anything else.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from ledger.merkle import HASH_SIZE
from ledger.merkle_proofs import PerfectHashSource

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile and entries in a full bundle (256)."""

MAX_TILE_LEVEL = 63
MAX_TILE_INDEX = 2**64 - 1
MAX_BUNDLE_ENTRY_SIZE = 0xFFFF
ENTRIES: Final = "entries"
TILE_ROOT = "tile"
PARTIAL_MARK = ".p"

_LENGTH_PREFIX = struct.Struct(">H")
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_LAST_ELEMENT = re.compile(r"[0-9]{3}")
_INNER_ELEMENT = re.compile(r"x[0-9]{3}")
_DIGIT_GROUP = 1000

Level = int | Literal["entries"]


@dataclass(frozen=True)
class TileRef:
    """A tile (``level`` 0..63) or entry bundle (``level == "entries"``) and its width."""

    level: Level
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if self.level != ENTRIES:
            _check_level(self.level)
        _check_index(self.index)
        _check_width(self.width)

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        level = ENTRIES if self.level == ENTRIES else str(self.level)
        return f"{TILE_ROOT}/{level}/{format_tile_index(self.index)}{_width_suffix(self.width)}"


def format_tile_index(index: int) -> str:
    """``<N>``: 3-digit groups, all but the last prefixed with ``x`` (1234067 -> x001/x234/067)."""
    _check_index(index)
    groups = [f"{index % _DIGIT_GROUP:03d}"]
    index //= _DIGIT_GROUP
    while index:
        groups.append(f"x{index % _DIGIT_GROUP:03d}")
        index //= _DIGIT_GROUP
    return "/".join(reversed(groups))


def tile_path(*, level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``."""
    return TileRef(level=level, index=index, width=width).path


def entries_path(*, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``."""
    return TileRef(level=ENTRIES, index=index, width=width).path


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (no leading slash)."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != TILE_ROOT:
        raise ValueError(f"{path!r} is not a tile path: expected tile/<L>/<N>[.p/<W>]")
    level_text, elements = parts[1], parts[2:]
    level: Level
    if level_text == ENTRIES:
        level = ENTRIES
    elif _LEVEL.fullmatch(level_text) and int(level_text) <= MAX_TILE_LEVEL:
        level = int(level_text)
    else:
        raise ValueError(f"{path!r}: tile level must be 0..63 or 'entries', without leading zeros")

    width = TILE_WIDTH
    if len(elements) >= 2 and elements[-2].endswith(PARTIAL_MARK):
        width_text = elements[-1]
        if _WIDTH.fullmatch(width_text) is None or int(width_text) >= TILE_WIDTH:
            raise ValueError(f"{path!r}: partial width must be 1..255, without leading zeros")
        width = int(width_text)
        elements = [*elements[:-2], elements[-2][: -len(PARTIAL_MARK)]]

    *inner, last = elements
    if _LAST_ELEMENT.fullmatch(last) is None or any(
        _INNER_ELEMENT.fullmatch(element) is None for element in inner
    ):
        raise ValueError(
            f"{path!r}: tile index must be 3-digit groups, all but the last prefixed with 'x'"
        )
    index = 0
    for element in elements:
        index = index * _DIGIT_GROUP + int(element.removeprefix("x"))
    if index > MAX_TILE_INDEX:
        raise ValueError(f"{path!r}: tile index {index} does not fit in 64 bits")
    ref = TileRef(level=level, index=index, width=width)
    if ref.path != path:
        raise ValueError(f"{path!r} is not canonical; the tile's path is {ref.path!r}")
    return ref


def tile_width_for_size(*, level: int, index: int, tree_size: int) -> int:
    """Number of hashes tile ``index`` at ``level`` holds in a tree of ``tree_size`` leaves.

    256 for a full tile; 1..255 for the partial tile at the right edge. Raises ``ValueError`` if
    the tile has no hashes at that size (empty tiles are never served). Entry bundles have the
    width of the level-0 tile with the same index.
    """
    _check_level(level)
    _check_index(index)
    if tree_size < 0:
        raise ValueError(f"tree size {tree_size} is negative")
    hashes_at_level = tree_size >> (TILE_HEIGHT * level)
    width = min(hashes_at_level - index * TILE_WIDTH, TILE_WIDTH)
    if width <= 0:
        raise ValueError(f"tile {index} at level {level} is empty in a tree of size {tree_size}")
    return width


def tile_ref_for_size(*, level: Level, index: int, tree_size: int) -> TileRef:
    """The tile (or entry bundle) ``index`` with the width it has in a tree of ``tree_size``."""
    width_level = level if isinstance(level, int) else 0
    width = tile_width_for_size(level=width_level, index=index, tree_size=tree_size)
    return TileRef(level=level, index=index, width=width)


def tile_hashes(*, level: int, index: int, width: int, perfect_hash: PerfectHashSource) -> bytes:
    """The bytes of a tile: ``width`` perfect-subtree hashes at Merkle level ``8 * level``."""
    ref = TileRef(level=level, index=index, width=width)
    merkle_level = TILE_HEIGHT * level
    first = ref.index * TILE_WIDTH
    return b"".join(perfect_hash(merkle_level, first + i) for i in range(ref.width))


def split_tile(data: bytes) -> list[bytes]:
    """The 32-byte hashes of a tile; raise ``ValueError`` unless it holds 1..256 of them."""
    count, remainder = divmod(len(data), HASH_SIZE)
    if remainder or not 1 <= count <= TILE_WIDTH:
        raise ValueError(f"a tile of {len(data)} bytes is not 1..256 hashes of {HASH_SIZE} bytes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Each entry behind its big-endian uint16 length, concatenated (at most 256 entries)."""
    if len(entries) > TILE_WIDTH:
        raise ValueError(f"an entry bundle holds at most {TILE_WIDTH} entries, not {len(entries)}")
    chunks = []
    for position, entry in enumerate(entries):
        if len(entry) > MAX_BUNDLE_ENTRY_SIZE:
            raise ValueError(
                f"entry {position} is {len(entry)} bytes; bundles allow {MAX_BUNDLE_ENTRY_SIZE}"
            )
        chunks.append(_LENGTH_PREFIX.pack(len(entry)))
        chunks.append(entry)
    return b"".join(chunks)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle; raise ``ValueError`` if it is truncated or over 256 entries."""
    entries: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(entries) == TILE_WIDTH:
            raise ValueError(f"entry bundle holds more than {TILE_WIDTH} entries")
        if offset + _LENGTH_PREFIX.size > len(data):
            raise ValueError(f"entry bundle ends inside the length of entry {len(entries)}")
        (length,) = _LENGTH_PREFIX.unpack_from(data, offset)
        offset += _LENGTH_PREFIX.size
        if offset + length > len(data):
            raise ValueError(
                f"entry bundle ends inside entry {len(entries)} ({length} bytes announced)"
            )
        entries.append(data[offset : offset + length])
        offset += length
    return entries


def _width_suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f"{PARTIAL_MARK}/{width}"


def _check_level(level: object) -> None:
    if type(level) is not int or not 0 <= level <= MAX_TILE_LEVEL:
        raise ValueError(f"tile level {level!r} is not an integer in 0..{MAX_TILE_LEVEL}")


def _check_index(index: int) -> None:
    if not 0 <= index <= MAX_TILE_INDEX:
        raise ValueError(f"tile index {index} is outside 0..2**64-1")


def _check_width(width: int) -> None:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} is outside 1..{TILE_WIDTH}")
