"""Presence: a fingerprint candidate verified by the reference's peaks, one at a time.

A landmark hash needs *both* peaks of a pair among a query's 50 strongest a second, so under a
loud background (a -10 dB mix) few of a registered recording's hashes survive, and its
coverage can fall below :func:`governance.content.fingerprint.threshold` though much of it is
still there. A single peak needs no partner. For a candidate (reference, offset), this module
counts the reference's peaks (``governance.content.peaks``, rebuilt from its stored pairs)
inside the query's span that are **present** in the query: where the query's whitened
spectrogram has a local maximum over :data:`MAP_BINS` bins x :data:`MAP_FRAMES` frames (above
its bin's mean: the query's *map*, about 800 a second) in the same bin, within
:data:`TOLERANCE` frames. Chance presence depends on how full the map is, bin by bin: with
``p_b`` the share of the query's frames at which bin ``b`` is present (the map widened by the
tolerance), the expected count is ``sum p_b`` and

    z = (present - sum p_b) / sqrt(sum p_b (1 - p_b))

over the reference's peaks in the window (about 1,500 for 30 s). A match by presence needs
``z >= Z_THRESHOLD``. The study behind it, its figures and its limits: docs/matching.md,
"Constellation presence under -10 dB mixes".

The query's map travels with its fingerprint (``Fingerprint.maxima``, packed as the peaks are),
so that a licensee's client computes it where the audio is; the service never sees the audio.
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
Z_THRESHOLD: Final = 6.0
"""The z a candidate needs to match by presence (calibrated: docs/matching.md)."""
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
    query's span, ``present`` are in the query's map, where chance would give ``expected``
    with standard deviation ``sd``; ``z`` as in the module docstring."""

    offset: int
    peaks: int
    present: int
    expected: float
    sd: float
    z: float

    @property
    def needed(self) -> float:
        """The peaks present at which z would reach :data:`Z_THRESHOLD`."""
        return self.expected + Z_THRESHOLD * self.sd


class QueryMap:
    """A query's map, widened by :data:`TOLERANCE` frames, and each bin's chance rate."""

    def __init__(self, bins: np.ndarray, frames: np.ndarray, n_frames: int) -> None:
        bins, frames = np.asarray(bins, np.int64), np.asarray(frames, np.int64)
        if n_frames < 0 or (len(frames) and not (frames.min() >= 0 and frames.max() < n_frames)):
            raise ValueError("the map's frames lie outside the query")
        if len(bins) and not (bins.min() >= 1 and bins.max() <= BINS):
            raise ValueError(f"the map's bins lie outside 1-{BINS}")
        present = np.zeros((BINS, n_frames), dtype=bool)
        present[bins - 1, frames] = True
        widened = present.copy()
        for k in range(1, TOLERANCE + 1):
            widened[:, k:] |= present[:, :-k]
            widened[:, :-k] |= present[:, k:]
        self.n_frames = n_frames
        self.present = widened
        p = widened.mean(axis=1) if n_frames else np.zeros(BINS)
        self._p = p
        self._var = p * (1 - p)

    def score(self, bins: np.ndarray, frames: np.ndarray, offset: int) -> Presence:
        """The reference's peaks (bins, frames: sorted by frame) at ``offset``."""
        lo, hi = np.searchsorted(frames, [offset, offset + self.n_frames])
        b = np.asarray(bins[lo:hi], np.int64) - 1
        f = np.asarray(frames[lo:hi], np.int64) - offset
        present = int(self.present[b, f].sum())
        expected = float(self._p[b].sum())
        variance = float(self._var[b].sum())
        sd = math.sqrt(variance)
        z = (present - expected) / sd if sd > 0 else 0.0
        return Presence(int(offset), int(hi - lo), present, expected, sd, z)

    def best(self, bins: np.ndarray, frames: np.ndarray, offsets: list[int]) -> Presence | None:
        """The reference's best presence among ``offsets`` (the first of equal z)."""
        scored = [self.score(bins, frames, o) for o in offsets]
        return max(scored, key=lambda s: s.z, default=None)
