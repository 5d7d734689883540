"""Packed postings: the fingerprint store's rows, built and read with numpy (no database here;
``governance.services.fingerprint_store`` keeps them in PostgreSQL; docs/matching.md, "The
packed store").

A **segment** holds the postings of some contents, each content named by a small integer key
(``FingerprintSource.id``), as rows ``(shift, bucket, n, data)``: the postings of the hashes
``h`` with ``h >> shift == bucket``, ``n`` of them, packed in ``data``. The shift depends on the
segment's size (:func:`shift_for`), so that a row holds a few dozen postings or more: a small
segment (one import's) is a few hundred rows, not one per hash, and a large one (compacted) is
one row per hash (shift 0), so that a query reads only its hashes' postings and can leave out
the hashes over the stop list's cap without reading them.

``data`` (format :data:`FORMAT`, 1), little-endian int32 records sorted by (hash, key, frame):
shift 0, :data:`POSTING` (key, frame), the hash being the bucket; shift > 0, :data:`ENTRY`
(hash, key, frame).

A query's votes are counted as ``MemoryIndex.votes`` counts them (:func:`expand`,
:func:`votes`); :func:`near_mask` first drops, with one pass of counting, the votes that belong
to no candidate able to reach a coverage, so that ``score_votes`` finds exactly the passing
candidates it would find from every vote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

FORMAT: Final = 1
POSTING: Final = np.dtype([("key", "<i4"), ("t", "<i4")])
"""A posting in a shift-0 row: the content's key and the hash's anchor frame."""
ENTRY: Final = np.dtype([("hash", "<i4"), ("key", "<i4"), ("t", "<i4")])
"""A posting in a row of several hashes (shift > 0)."""
SHIFTS: Final = (0, 8, 11, 14)
"""The shifts segments are written with (a query looks its buckets up at each)."""
PER_HASH: Final = 1 << 21
"""Postings from which a segment has one row per hash (shift 0): about 45 tracks."""
MAX_KEY: Final = 2**31 - 1
MAX_FRAME: Final = 2**31 - 1
NEAR_BIN: Final = 4
"""Offsets are counted in bins of this many frames by :func:`near_mask`: a candidate centred
on c reads offsets c - 1 .. c + 1, and any five consecutive offsets lie in at most two bins."""
_TABLE_BITS: Final = 12


def shift_for(postings: int) -> int:
    """The shift of a segment of ``postings``: 0 from :data:`PER_HASH`, else the one that
    leaves about 16 to 128 postings a row (the smallest segments, a few dozen rows)."""
    if postings >= PER_HASH:
        return 0
    if postings >= 1 << 18:
        return 8
    if postings >= 1 << 15:
        return 11
    return 14


@dataclass(frozen=True, eq=False)
class Flat:
    """Postings as three int64 arrays, sorted by (hash, key, frame)."""

    hashes: np.ndarray
    keys: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def empty(cls) -> Flat:
        z = np.zeros(0, np.int64)
        return cls(z, z, z)


@dataclass(frozen=True, eq=False)
class Rows:
    """A segment's rows: ``buckets`` (sorted, distinct), ``counts`` (postings each), and each
    row's packed ``data`` concatenated in row order (``packed``, bytes)."""

    shift: int
    buckets: np.ndarray
    counts: np.ndarray
    packed: bytes

    def __len__(self) -> int:
        return len(self.buckets)

    @property
    def postings(self) -> int:
        return int(self.counts.sum())

    def sizes(self) -> np.ndarray:
        """Each row's ``data`` length in bytes."""
        return self.counts * (POSTING if self.shift == 0 else ENTRY).itemsize


def rows_of(flat: Flat, *, shift: int | None = None) -> Rows:
    """The rows of a segment of ``flat`` postings (shift: :func:`shift_for` their number)."""
    shift = shift_for(len(flat)) if shift is None else shift
    if shift not in SHIFTS:
        raise ValueError(f"a segment's shift is one of {SHIFTS}")
    buckets = flat.hashes >> shift
    if not len(buckets):
        return Rows(shift, np.zeros(0, np.int64), np.zeros(0, np.int64), b"")
    first = np.ones(len(buckets), dtype=bool)
    first[1:] = buckets[1:] != buckets[:-1]
    starts = np.nonzero(first)[0]
    counts = np.diff(np.append(starts, len(buckets)))
    if shift == 0:
        records = np.empty(len(flat), dtype=POSTING)
    else:
        records = np.empty(len(flat), dtype=ENTRY)
        records["hash"] = flat.hashes
    records["key"], records["t"] = flat.keys, flat.times
    return Rows(shift, buckets[starts].astype(np.int64), counts.astype(np.int64), records.tobytes())


def _checked(values: np.ndarray, *, name: str, below: int) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or (len(values) and values.dtype.kind not in "iu"):
        raise ValueError(f"a posting's {name} is a 1-D array of integers")
    values = values.astype(np.int64)
    if len(values) and not (int(values.min()) >= 0 and int(values.max()) <= below):
        raise ValueError(f"a posting's {name} is outside 0 to {below}")
    return values


def flat_of(contents: Sequence[tuple[int, np.ndarray, np.ndarray]], *, hash_bits: int) -> Flat:
    """The postings of ``contents`` ((key, hashes, frames) each, keys distinct), sorted."""
    keys = [int(k) for k, _, _ in contents]
    if len(set(keys)) != len(keys):
        raise ValueError("a segment holds each content once")
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for key, hashes, times in contents:
        if not 0 < key <= MAX_KEY:
            raise ValueError(f"a content's key is 1 to {MAX_KEY}")
        h = _checked(hashes, name="hash", below=(1 << hash_bits) - 1)
        t = _checked(times, name="frame", below=MAX_FRAME)
        if len(h) != len(t):
            raise ValueError(f"{len(h)} hashes but {len(t)} frames")
        parts.append((h, np.full(len(h), key, np.int64), t))
    if not parts:
        return Flat.empty()
    h, k, t = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return sorted_flat(h, k, t)


def sorted_flat(hashes: np.ndarray, keys: np.ndarray, times: np.ndarray) -> Flat:
    """The postings sorted by (hash, key, frame)."""
    if not len(hashes):
        return Flat.empty()
    if int(hashes.max()) < 1 << 22 and int(keys.max()) < 1 << 20 and int(times.max()) < 1 << 22:
        # (the usual case: one 64-bit number a posting sorts three to four times faster)
        packed = (
            (hashes.astype(np.uint64) << np.uint64(42))
            | (keys.astype(np.uint64) << np.uint64(22))
            | times.astype(np.uint64)
        )
        packed.sort()
        return Flat(
            (packed >> np.uint64(42)).astype(np.int64),
            ((packed >> np.uint64(22)) & np.uint64((1 << 20) - 1)).astype(np.int64),
            (packed & np.uint64((1 << 22) - 1)).astype(np.int64),
        )
    order = np.lexsort((times, keys, hashes))
    return Flat(hashes[order], keys[order], times[order])


def unpacked(rows: Sequence[tuple[int, int, bytes]]) -> Flat:
    """Rows read back, ``(shift, bucket, data)`` each: their postings, unsorted across rows;
    ``ValueError`` for data that is not whole records."""
    hashes, keys, times = [], [], []
    for shift in SHIFTS:
        mine = [(b, d) for s, b, d in rows if s == shift]
        if not mine:
            continue
        dtype = POSTING if shift == 0 else ENTRY
        sizes = np.fromiter((len(d) for _, d in mine), dtype=np.int64, count=len(mine))
        if bool(np.any(sizes % dtype.itemsize)):
            raise ValueError(f"a row's postings are {dtype.itemsize} bytes each")
        records = np.frombuffer(b"".join(d for _, d in mine), dtype=dtype)
        if shift == 0:
            buckets = np.fromiter((b for b, _ in mine), dtype=np.int64, count=len(mine))
            hashes.append(np.repeat(buckets, sizes // dtype.itemsize))
        else:
            hashes.append(records["hash"].astype(np.int64))
        keys.append(records["key"].astype(np.int64))
        times.append(records["t"].astype(np.int64))
    if not hashes:
        return Flat.empty()
    return Flat(np.concatenate(hashes), np.concatenate(keys), np.concatenate(times))


def query_buckets(hashes: np.ndarray) -> tuple[list[int], list[int]]:
    """(shifts, buckets): every (shift, bucket) of :data:`SHIFTS` a query's hashes fall in."""
    distinct = np.unique(np.asarray(hashes, np.int64))
    shifts: list[int] = []
    buckets: list[int] = []
    for shift in SHIFTS:
        mine = np.unique(distinct >> shift).tolist()
        shifts += [shift] * len(mine)
        buckets += mine
    return shifts, buckets


def gathered(
    rows: Sequence[tuple[int, int, bytes]], query: np.ndarray, *, cap: int | None,
    over: np.ndarray,
) -> Flat:  # fmt: skip
    """The postings of the query's hashes in the rows read for it ((shift, bucket, data) each),
    but for the hashes holding more than ``cap`` in all: those of ``over`` (known to hold more
    in their rows of shift 0, which came without their data) and those whose postings here
    number more. A row of shift 0 holds one of the query's hashes (its bucket) and is counted
    as a row; a row of several hashes (shift > 0), one posting at a time."""
    wanted = np.setdiff1d(np.unique(np.asarray(query, np.int64)), over)
    whole = unpacked([r for r in rows if r[0] == 0])
    parts = unpacked([r for r in rows if r[0] != 0])
    mine = np.isin(parts.hashes, wanted)
    parts = Flat(parts.hashes[mine], parts.keys[mine], parts.times[mine])
    if cap is not None and len(parts):
        # Only a hash with postings in both kinds of row can be over the cap here (its rows of
        # shift 0 hold at most ``cap``: the query read them with their data).
        row_hashes = np.array([b for s, b, _ in rows if s == 0], dtype=np.int64)
        row_counts = np.array([len(d) for s, _, d in rows if s == 0], dtype=np.int64)
        row_counts //= POSTING.itemsize
        where, held = np.unique(parts.hashes, return_counts=True)
        if len(row_hashes):
            order = np.argsort(row_hashes, kind="stable")
            sorted_hashes, cumulative = row_hashes[order], np.cumsum(row_counts[order])
            hi = np.searchsorted(sorted_hashes, where, "right")
            lo = np.searchsorted(sorted_hashes, where, "left")
            total = np.append(0, cumulative)
            held = held + total[hi] - total[lo]
        too_many = where[held > cap]
        if len(too_many):
            keep = ~np.isin(whole.hashes, too_many)
            whole = Flat(whole.hashes[keep], whole.keys[keep], whole.times[keep])
            keep = ~np.isin(parts.hashes, too_many)
            parts = Flat(parts.hashes[keep], parts.keys[keep], parts.times[keep])
    if not len(parts):
        return whole
    return Flat(*(np.concatenate((a, b)) for a, b in zip(
        (whole.hashes, whole.keys, whole.times), (parts.hashes, parts.keys, parts.times),
        strict=True)))  # fmt: skip


def expand(
    flat: Flat, q_hashes: np.ndarray, q_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every vote of a query against postings: (key, offset, query frame) for each pair of a
    posting and an occurrence of its hash in the query (a hash may occur at several frames)."""
    q_hashes, q_times = np.asarray(q_hashes, np.int64), np.asarray(q_times, np.int64)
    order = np.argsort(q_hashes, kind="stable")
    qh, qt = q_hashes[order], q_times[order]
    if not len(flat):
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    # Looked up once per run of one hash (a row's postings), not once per posting.
    change = np.ones(len(flat), dtype=bool)
    change[1:] = flat.hashes[1:] != flat.hashes[:-1]
    starts = np.flatnonzero(change)
    runs = np.diff(np.append(starts, len(flat)))
    run_lo = np.searchsorted(qh, flat.hashes[starts], "left")
    run_occurs = np.searchsorted(qh, flat.hashes[starts], "right") - run_lo
    if bool(np.all(run_occurs == 1)):  # (the usual case: each hash once in the query)
        frames = np.repeat(qt[run_lo], runs)
        return flat.keys, flat.times - frames, frames
    lo, occurs = np.repeat(run_lo, runs), np.repeat(run_occurs, runs)
    total = int(occurs.sum())
    posting = np.repeat(np.arange(len(flat)), occurs)
    occurrence = lo[posting] + np.arange(total) - np.repeat(np.cumsum(occurs) - occurs, occurs)
    frames = qt[occurrence]
    return flat.keys[posting], flat.times[posting] - frames, frames


def near_mask(keys: np.ndarray, offsets: np.ndarray, *, needed: int) -> np.ndarray:
    """Which votes may belong to a candidate reaching coverage ``needed``.

    A candidate centred on c covers at most as many blocks as it has votes at offsets c - 1 ..
    c + 1; a vote at offset o belongs to the centres o - 1 .. o + 1, whose votes lie in o - 2 ..
    o + 2, within two bins of :data:`NEAR_BIN` offsets. So a vote whose two bins (of its key)
    hold fewer than ``needed`` votes belongs to no candidate that can pass, and every vote of
    one that can is kept. The bins are counted in a table indexed by a hash of (key, bin):
    two bins sharing a slot only add to each other's count, which keeps more votes, never
    fewer.
    """
    if not len(keys) or needed <= 1:
        return np.ones(len(keys), dtype=bool)
    passing: np.ndarray = near_held(keys, offsets) >= needed
    return passing


def near_held(keys: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """For each vote, the votes its two bins hold (:func:`near_mask`): at least the coverage of
    any candidate it belongs to, so ``near_held(...) >= needed`` keeps every vote of every
    candidate reaching ``needed``."""
    if not len(keys):
        return np.zeros(0, np.int64)
    # (a table of 2 to 4 slots a vote: few bins share one, and it stays small)
    size = 1 << max(_TABLE_BITS, (2 * len(keys)).bit_length())
    mix = np.asarray(keys, np.int64) * np.int64(0x9E3779B1)

    def slot(b: np.ndarray) -> np.ndarray:
        mixed: np.ndarray = np.right_shift(mix + b * np.int64(0x85EBCA77), 7)
        slots: np.ndarray = np.bitwise_and(mixed, size - 1)
        return slots

    table = np.bincount(slot(np.floor_divide(offsets, NEAR_BIN)), minlength=size)
    low = np.floor_divide(offsets - 2, NEAR_BIN)
    high = np.floor_divide(offsets + 2, NEAR_BIN)
    held: np.ndarray = table[slot(low)] + np.where(high != low, table[slot(high)], 0)
    return held


def votes(
    keys: np.ndarray, offsets: np.ndarray, q_frames: np.ndarray, *, frames_per_block: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The votes grouped as ``MemoryIndex.votes`` groups them: (key, offset, block, hits)."""
    if not len(keys):
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    block = q_frames // frames_per_block
    order = np.lexsort((block, offsets, keys))
    k, o, b = keys[order], offsets[order], block[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = (k[1:] != k[:-1]) | (o[1:] != o[:-1]) | (b[1:] != b[:-1])
    starts = np.nonzero(first)[0]
    hits = np.diff(np.append(starts, len(k)))
    return k[starts], o[starts], b[starts], hits
