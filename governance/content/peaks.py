"""A content's landmark peaks, rebuilt from its stored pairs, and their packed form (no database
here; ``governance.services.fingerprint_store`` keeps them per content; docs/matching.md, "The
packed store").

Each (hash, anchor frame t) pair of :mod:`governance.content.landmarks` names two peaks: its
anchor (t, f1) and its target (t + dt, f1 + df), by the hash layout f1 | df + 32 | dt. The
union of a content's pairs' peaks is its peaks (:func:`from_pairs`): the landmark peaks of its
audio but for those that pair with nothing (docs/matching.md, "Constellation presence under
-10 dB mixes", where a candidate (content, offset) is verified by its peaks' presence in a
query, one peak at a time).

Packed form (:func:`pack`, :func:`unpack`), little-endian::

    magic    4 bytes   b"CSPK"
    format   u8        1
    zero     3 bytes   0 (reserved)
    count    u32       n
    peaks    n x u32   frame << 8 | bin (bin 1-255), strictly increasing

It is canonical: one set of peaks has one packed form.
"""

from __future__ import annotations

import struct
from typing import Final

import numpy as np

from governance.content import landmarks

FORMAT: Final = 1
BIN_BITS: Final = 8
MAX_FRAME: Final = (1 << (32 - BIN_BITS)) - 1
"""The last frame a packed peak can hold (about 108 hours at 23.2 ms a frame)."""

_MAGIC: Final = b"CSPK"
_HEADER: Final = struct.Struct("<4sB3sI")
_RECORD: Final = np.dtype("<u4")


def _integers(values: np.ndarray, *, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or (len(values) and values.dtype.kind not in "iu"):
        raise ValueError(f"the {name} are a 1-D array of integers")
    return values.astype(np.int64)


def from_pairs(hashes: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The peaks named by (hash, anchor frame) pairs: (bins 1-255, frames), int32, each peak
    once, sorted by (frame, bin). ``ValueError`` for pairs outside the hash layout."""
    return _split(distinct(pair_codes(hashes, frames)))


def distinct(codes: np.ndarray) -> np.ndarray:
    """``codes`` sorted, each once: ``np.unique`` by a sort (stable: runs already sorted, as
    several arrays of distinct codes concatenated, are merged), which numpy 2.4's hash table
    took 2.5 times longer than on 150,000 codes, 10 times on 12 million."""
    out = np.sort(codes, kind="stable")
    if len(out) > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def pair_codes(hashes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The peaks of (hash, anchor frame) pairs as int64 codes frame << 8 | bin, the anchors'
    then the targets', unsorted, a peak as often as pairs name it (:func:`from_pairs` keeps
    each once). ``ValueError`` for pairs outside the hash layout."""
    h = _integers(hashes, name="hashes")
    t = _integers(frames, name="frames")
    if len(h) != len(t):
        raise ValueError(f"{len(h)} hashes but {len(t)} frames")
    if not len(h):
        return np.zeros(0, np.int64)
    if int(h.min()) < 0 or int(h.max()) >= 1 << landmarks.HASH_BITS:
        raise ValueError(f"a hash is outside 0 to 2**{landmarks.HASH_BITS} - 1")
    f1 = h >> (landmarks.DF_BITS + landmarks.DT_BITS)
    df = ((h >> landmarks.DT_BITS) & ((1 << landmarks.DF_BITS) - 1)) - (landmarks.DF_MAX + 1)
    dt = h & ((1 << landmarks.DT_BITS) - 1)
    f2 = f1 + df
    if int(f1.min()) < 1:
        raise ValueError("a hash's anchor bin is 0")
    if int(f2.min()) < 1 or int(f2.max()) > 255:
        raise ValueError("a hash's target bin is outside 1-255")
    if int(dt.min()) < 1:
        raise ValueError("a hash's dt is 0")
    if int(t.min()) < 0 or int((t + dt).max()) > MAX_FRAME:
        raise ValueError(f"a peak's frame is outside 0 to {MAX_FRAME}")
    return np.concatenate((t << BIN_BITS | f1, (t + dt) << BIN_BITS | f2))


def _split(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bins, frames), int32, of codes frame << 8 | bin."""
    return (
        (codes & ((1 << BIN_BITS) - 1)).astype(np.int32),
        (codes >> BIN_BITS).astype(np.int32),
    )


def _codes(bins: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Peaks as int64 codes frame << 8 | bin (the packed records' values); ``ValueError`` for
    a bin outside 1-255 or a frame outside 0 to :data:`MAX_FRAME`."""
    b = _integers(bins, name="bins")
    f = _integers(frames, name="frames")
    if len(b) != len(f):
        raise ValueError(f"{len(b)} bins but {len(f)} frames")
    if len(b) and (int(b.min()) < 1 or int(b.max()) > 255):
        raise ValueError("a peak's bin is outside 1-255")
    if len(f) and (int(f.min()) < 0 or int(f.max()) > MAX_FRAME):
        raise ValueError(f"a peak's frame is outside 0 to {MAX_FRAME}")
    codes: np.ndarray = f << BIN_BITS | b
    return codes


def pack(bins: np.ndarray, frames: np.ndarray) -> bytes:
    """The packed form shown in the module docstring of peaks sorted by (frame, bin), each
    once (as :func:`from_pairs` gives them); ``ValueError`` for others."""
    codes = _codes(bins, frames)
    if len(codes) > 1 and not bool(np.all(np.diff(codes) > 0)):
        raise ValueError("the peaks are not strictly increasing by (frame, bin)")
    header = _HEADER.pack(_MAGIC, FORMAT, bytes(3), len(codes))
    return header + codes.astype(_RECORD).tobytes()


def unpack(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Packed peaks read back as (bins, frames), int32; ``ValueError`` saying what is wrong
    with bad input."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError("packed peaks are bytes")
    data = bytes(data)
    if len(data) < _HEADER.size:
        raise ValueError(f"packed peaks have at least {_HEADER.size} bytes")
    magic, fmt, zero, count = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError("not packed peaks (bad magic)")
    if fmt != FORMAT:
        raise ValueError(f"packed peaks format {fmt} is not {FORMAT}")
    if zero != bytes(3):
        raise ValueError("the packed peaks' reserved bytes are not zero")
    if len(data) != _HEADER.size + _RECORD.itemsize * count:
        raise ValueError(f"{count} peaks need {_HEADER.size + _RECORD.itemsize * count} bytes")
    codes = np.frombuffer(data, dtype=_RECORD, offset=_HEADER.size).astype(np.int64)
    if count and not bool(np.all(codes & ((1 << BIN_BITS) - 1))):
        raise ValueError("a peak's bin is 0")
    if count > 1 and not bool(np.all(np.diff(codes) > 0)):
        raise ValueError("the peaks are not strictly increasing by (frame, bin)")
    return _split(codes)


def window(
    bins: np.ndarray, frames: np.ndarray, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """The peaks (sorted by frame, as :func:`from_pairs` and :func:`unpack` give them) with
    ``start <= frame < stop``."""
    lo, hi = np.searchsorted(frames, [start, stop], side="left")
    return bins[lo:hi], frames[lo:hi]
