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
    local = landmarks._running_max(
        landmarks._running_max(spec, MAP_BINS, axis=0), MAP_FRAMES, axis=1
    )
    frames, bins = np.nonzero(((spec == local) & (spec > 0)).T)
    return (bins + 1).astype(np.int32), frames.astype(np.int32)


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
