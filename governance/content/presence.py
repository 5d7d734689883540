"""Presence: a fingerprint candidate verified by the reference's peaks, one at a time.

A landmark hash needs *both* peaks of a pair among a query's 50 strongest a second, so under a
loud background (a -10 dB mix) few of a registered recording's hashes survive, and its
coverage can fall below :func:`governance.content.fingerprint.threshold` though much of it is
still there. A single peak needs no partner. For a candidate (reference, offset), this module
counts the reference's peaks (``governance.content.peaks``, rebuilt from its stored pairs)
inside the query's span that are **present** in the query: where the query's whitened
spectrogram has a local maximum over :data:`MAP_BINS` bins x :data:`MAP_FRAMES` frames (above
its bin's mean: the query's *map*, about 800 a second) in the same bin, within
:data:`TOLERANCE` frames. A present peak weighs the maximum's **rank** among the 255 bins of
its frame (:func:`ranks`, 0-1; the highest within the tolerance): a maximum that stands out
in its moment says more than one a loud background leaves in a faint bin. Chance depends on
how full the map is, bin by bin: with ``G`` the widened map's value (0 where nothing is
present), ``M_b`` and ``V_b`` its mean and variance over the query's frames in bin ``b``,

    z = (sum G - sum M_b) / sqrt(sum V_b)

over the reference's peaks in the window (about 1,500 for 30 s); with every value 1 (a map
without ranks) this is the count of present peaks against ``sum p_b``, ``p_b`` the share of
frames where bin ``b`` is present. A match by presence needs ``z >= Z_THRESHOLD``, at the best
offset of the candidate (:meth:`QueryMap.scan`, every offset). The study behind it, its
figures and its limits: docs/matching.md, "Constellation presence under -10 dB mixes", "A
weighted statistic" and "Presence in the service".

The query's map travels with its fingerprint (``Fingerprint.maxima`` and ``ranks``, packed as
the peaks are), so that a licensee's client computes it where the audio is; the service never
sees the audio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from governance.content import landmarks

MAP_BINS: Final = 3
MAP_FRAMES: Final = 3
TOLERANCE: Final = 1
"""A reference peak at frame t is present if the map holds its bin at t - 1, t or t + 1."""
Z_THRESHOLD: Final = 6.9
"""The z a candidate needs to match by presence: about half a unit above the best wrong z of
the real-music benchmark's impostor sweep (6.43, 20 references scanned at every offset;
docs/matching.md, "Presence in the service")."""
SCAN_RESCORED: Final = 3
"""A scan (:meth:`QueryMap.scan`) scores this many of its best offsets exactly."""
BINS: Final = landmarks.N_FFT // 2 - 1
"""The spectrogram's bins (1-255)."""


def maxima(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The query's map: (bins 1-255, frames) of the local maxima of a whitened spectrogram
    (``landmarks.spectrogram``) over :data:`MAP_BINS` x :data:`MAP_FRAMES` that stand above
    their bin's mean, int32, sorted by frame then bin."""
    if spec.shape[1] == 0:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    frames, bins = np.nonzero(landmarks.local_maxima(spec, (MAP_BINS, MAP_FRAMES)).T)
    return (bins + 1).astype(np.int32), frames.astype(np.int32)


def ranks(spec: np.ndarray, bins: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Each maximum's rank among the :data:`BINS` bins of its frame (0 the quietest, ``BINS``
    - 1 the loudest), uint8: how much it stands out in its moment, which the map's bare
    presence does not say (a maximum of a faint bin under a loud background ranks low)."""
    if not len(bins):
        return np.zeros(0, np.uint8)
    order = np.argsort(np.asarray(spec, np.float32), axis=0, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(spec.shape[0])[:, None], axis=0)
    return rank[np.asarray(bins, np.int64) - 1, np.asarray(frames, np.int64)].astype(np.uint8)


_VARINT_BYTES: Final = 5
"""The longest gap a packed map holds: 7 bits a byte, 35 bits (a 20-minute query's map spans
13 million cells)."""


def pack_map(bins: np.ndarray, frames: np.ndarray) -> bytes:
    """A map (sorted by frame, then bin), packed: each maximum's cell in the frame-major raster
    of :data:`BINS` bins, ``frame * BINS + bin - 1``, as the gap from the previous one (the
    first from -1), an unsigned LEB128 varint (7 bits a byte, the high bit set on every byte
    but a number's last): about a byte a maximum, where they lie a dozen cells apart."""
    cells = np.asarray(frames, np.int64) * BINS + np.asarray(bins, np.int64) - 1
    gaps = np.diff(cells, prepend=-1)
    if len(gaps) and (int(gaps.min()) < 1 or int(gaps.max()) >= 1 << (7 * _VARINT_BYTES)):
        raise ValueError("a map's maxima are distinct cells, sorted by frame then bin")
    size = np.ones(len(gaps), dtype=np.int64)
    for j in range(1, _VARINT_BYTES):
        size += gaps >= 1 << (7 * j)
    starts = np.cumsum(size) - size
    out = np.zeros(int(size.sum()), dtype=np.uint8)
    for j in range(_VARINT_BYTES):
        mine = size > j
        more = np.where(size[mine] > j + 1, 0x80, 0)
        out[starts[mine] + j] = ((gaps[mine] >> (7 * j)) & 0x7F) | more
    return out.tobytes()


def unpack_map(data: bytes, count: int, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pack_map`'s bytes back: (bins, frames), int32; ``ValueError`` naming what is
    wrong (not ``count`` numbers, a number of more than 5 bytes or not in its shortest form, a
    maximum past the query's ``n_frames``)."""
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    last = (raw & 0x80) == 0
    if int(last.sum()) != count or (len(raw) and not last[-1]):
        raise ValueError(f"the map does not hold {count} whole numbers")
    if not count:
        empty = np.zeros(0, np.int32)
        return empty, empty
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    size = ends - starts + 1
    if int(size.max()) > _VARINT_BYTES or bool(np.any((size > 1) & (raw[ends] == 0))):
        raise ValueError("a number of the map is longer than its shortest form")
    number = np.repeat(np.arange(count), size)
    place = np.arange(len(raw)) - starts[number]
    gaps = np.bincount(number, weights=(raw & 0x7F) * (128.0**place)).astype(np.int64)
    if int(gaps.min()) < 1:
        raise ValueError("the map's maxima are not strictly increasing by (frame, bin)")
    cells = np.cumsum(gaps) - 1
    frames, bins = cells // BINS, cells % BINS + 1
    if int(frames[-1]) >= n_frames:
        raise ValueError(f"a maximum of the map lies past its {n_frames} frames")
    return bins.astype(np.int32), frames.astype(np.int32)


@dataclass(frozen=True)
class Presence:
    """A reference at one offset (its frame at the query's frame 0): of its ``peaks`` inside the
    query's span, ``present`` are in the query's map, where chance would give ``expected``.
    Each present peak weighs its maximum's rank (0-1; 1 in a map without ranks): their sum
    ``weight``, where chance would give ``expected_weight`` with standard deviation ``sd``;
    ``z`` as in the module docstring."""

    offset: int
    peaks: int
    present: int
    expected: float
    weight: float
    expected_weight: float
    sd: float
    z: float

    @property
    def needed(self) -> float:
        """The weight at which z would reach :data:`Z_THRESHOLD`."""
        return self.expected_weight + Z_THRESHOLD * self.sd


_VALUE: Final = np.concatenate(([0.0], np.arange(BINS) / (BINS - 1)))
"""A map cell's code to its value: 0 nothing present; c (1-255) a maximum of rank c - 1, worth
(c - 1) / 254 (a map without ranks codes every maximum 255, worth 1)."""


class QueryMap:
    """A query's map, widened by :data:`TOLERANCE` frames (each cell the highest rank within
    it, 0-1, held as a byte: :data:`_VALUE`), and each bin's chance: the share of frames where
    it is present, the mean and the variance of its value."""

    def __init__(
        self, bins: np.ndarray, frames: np.ndarray, n_frames: int, ranks: np.ndarray | None = None
    ) -> None:
        bins, frames = np.asarray(bins, np.int64), np.asarray(frames, np.int64)
        if n_frames < 0 or (len(frames) and not (frames.min() >= 0 and frames.max() < n_frames)):
            raise ValueError("the map's frames lie outside the query")
        if len(bins) and not (bins.min() >= 1 and bins.max() <= BINS):
            raise ValueError(f"the map's bins lie outside 1-{BINS}")
        if ranks is None:
            codes = np.full(len(bins), BINS, np.int64)
        else:
            ranks = np.asarray(ranks, np.int64)
            out_of_range = len(ranks) and not 0 <= ranks.min() <= ranks.max() < BINS
            if len(ranks) != len(bins) or out_of_range:
                raise ValueError(f"the map's ranks are one per maximum, 0-{BINS - 1}")
            codes = ranks + 1
        # A byte a cell (a 20-minute query: 13 MB), the highest code within the tolerance.
        code = np.zeros((BINS, n_frames), np.uint8)
        code[bins - 1, frames] = codes
        widened = code.copy()
        for k in range(1, TOLERANCE + 1):
            np.maximum(widened[:, k:], code[:, :-k], out=widened[:, k:])
            np.maximum(widened[:, :-k], code[:, k:], out=widened[:, :-k])
        self.n_frames = n_frames
        self.code = widened
        # the maxima by bin (then frame), for the scan's pairs
        order = np.lexsort((frames, bins))
        self._cols, self._values = frames[order], _VALUE[codes[order]]
        self._bin_starts = np.searchsorted(bins[order] - 1, np.arange(BINS + 1))
        # each bin's frames per code: its chance terms, exactly, without a float copy
        counts = np.zeros((BINS, BINS + 1))
        for b in range(BINS if n_frames else 0):
            counts[b] = np.bincount(widened[b], minlength=BINS + 1)
        frames_n = max(n_frames, 1)
        self._p = (n_frames - counts[:, 0]) / frames_n
        self._mean = counts @ _VALUE / frames_n
        self._var = np.maximum(counts @ (_VALUE * _VALUE) / frames_n - self._mean**2, 0.0)

    def score(self, bins: np.ndarray, frames: np.ndarray, offset: int) -> Presence:
        """The reference's peaks (bins, frames: sorted by frame) at ``offset``."""
        lo, hi = np.searchsorted(frames, [offset, offset + self.n_frames])
        b = np.asarray(bins[lo:hi], np.int64) - 1
        f = np.asarray(frames[lo:hi], np.int64) - offset
        cells = self.code[b, f]
        present = int(np.count_nonzero(cells))
        weight = float(_VALUE[cells].sum())
        expected_weight = float(self._mean[b].sum())
        sd = math.sqrt(float(self._var[b].sum()))
        z = (weight - expected_weight) / sd if sd > 0 else 0.0
        return Presence(int(offset), int(hi - lo), present, float(self._p[b].sum()), weight,
                        expected_weight, sd, z)  # fmt: skip

    def best(self, bins: np.ndarray, frames: np.ndarray, offsets: list[int]) -> Presence | None:
        """The reference's best presence among ``offsets`` (the first of equal z)."""
        scored = [self.score(bins, frames, o) for o in offsets]
        return max(scored, key=lambda s: s.z, default=None)

    def scan(self, bins: np.ndarray, frames: np.ndarray, last: int) -> Presence | None:
        """The reference's best presence at any offset 0 .. ``last`` (None if there is none).

        Every offset's z at once, approximately: each pair of a reference peak and a query
        maximum in the same bin votes the maximum's value for the offsets that put them within
        :data:`TOLERANCE` frames (exact, unless two maxima of a bin lie within 2 x TOLERANCE
        frames of each other: then an upper bound); the expected value and the variance from
        running sums over the peaks sorted by frame. The :data:`SCAN_RESCORED` best offsets
        (none within 2 frames of a better one) are then scored exactly (:meth:`score`); the
        best is returned.
        About a million pairs for a 4-minute reference and a 30-s query (10 ms).
        """
        if last < 0 or not len(frames):
            return None
        n = self.n_frames
        b = np.asarray(bins, np.int64) - 1
        f = np.asarray(frames, np.int64)
        by_bin = np.lexsort((f, b))
        fb = f[by_bin]
        starts = np.searchsorted(b[by_bin], np.arange(BINS + 1))
        mine, theirs = np.diff(starts), np.diff(self._bin_starts)
        sizes = mine * theirs
        ends = np.cumsum(sizes)
        # every (peak, maximum) pair of a bin, bin by bin: index = reference frame - query
        # frame + n (>= 1), weighing the maximum's value; offset o gathers o + n +/- TOLERANCE
        index = np.empty(int(ends[-1]), np.int64)
        weight = np.empty(len(index))
        for k in np.flatnonzero(sizes).tolist():
            cells = slice(int(ends[k] - sizes[k]), int(ends[k]))
            theirs_k = slice(int(self._bin_starts[k]), int(self._bin_starts[k + 1]))
            shape = (int(mine[k]), int(theirs[k]))
            np.subtract(fb[starts[k] : starts[k + 1], None], self._cols[None, theirs_k] - n,
                        out=index[cells].reshape(shape))  # fmt: skip
            weight[cells].reshape(shape)[:] = self._values[theirs_k]
        votes = np.bincount(index, weights=weight, minlength=last + n + TOLERANCE + 2)
        running = np.concatenate(([0.0], np.cumsum(votes)))
        o = np.arange(last + 1)
        observed = running[o + n + TOLERANCE + 1] - running[o + n - TOLERANCE]
        mean = np.concatenate(([0.0], np.cumsum(self._mean[b])))
        var = np.concatenate(([0.0], np.cumsum(self._var[b])))
        i0, i1 = np.searchsorted(f, o), np.searchsorted(f, o + n)
        z = (observed - (mean[i1] - mean[i0])) / np.sqrt(np.maximum(var[i1] - var[i0], 1e-9))
        top = np.argsort(-z, kind="stable")[: 20 * SCAN_RESCORED]
        kept: list[int] = []
        for c in top.tolist():
            if all(abs(c - x) > 2 for x in kept):
                kept.append(c)
                if len(kept) == SCAN_RESCORED:
                    break
        return self.best(bins, frames, kept)
