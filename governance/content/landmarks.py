"""Spectral landmarks: from samples to (hash, frame) pairs, in numpy and scipy.

The method of the fingerprint study (docs/studies/fingerprint/, ``landmark_eval.py``), the
Shazam / audfprint kind:

1. Spectrogram: STFT of 512 samples, hop 256 (23.2 ms frames, 21.5 Hz bins at 11,025 Hz),
   Hann window; the natural log of the magnitude of bins 1-255.
2. Whitening: from each bin, its running mean over 129 frames (3 s) is subtracted, which
   removes the colouring of an EQ, a band-pass or a microphone.
3. Peaks: 2-D local maxima over 15 bins x 9 frames that stand above their bin's mean; in each
   block of 43 frames (1 s) only the :data:`PEAKS_PER_BLOCK` strongest are kept (50 a second).
4. Pairs: each peak (the anchor, at frame t) pairs with the first :data:`FANOUT` later peaks
   among the next :data:`LOOKAHEAD` (in time order) that lie in the target zone, 1 <= dt <=
   :data:`DT_MAX` frames and |df| <= :data:`DF_MAX` bins. The pair's hash packs the anchor bin
   f1, df and dt; it is stored with the anchor's frame t.

Hash layout (:data:`HASH_BITS` = 22), most significant first::

    f1 (8 bits, bin 1-255) | df + 32 (6 bits, -31..31) | dt (8 bits, 1..255)

The study packed f1 | df + 32 | dt in 20 bits, with dt <= 63. The target zone's width in
frequency is kept: widening it to |df| <= 127 (24 bits) was measured on synthetic music and
made things worse, not better (docs/matching.md, "The fingerprint space"): with more of the
spectrum in the zone the first six targets lie closer in time, so the hashes spread no more
(chance postings per lookup rose by a fifth), and a noise peak steals a target slot more often
(coverage under white noise at 5 dB fell from 23 to 14 of 30). dt is allowed up to 255 frames,
which only adds pairs where peaks are sparse.
"""

from __future__ import annotations

import functools
from typing import Final

import numpy as np
import scipy.fft
from scipy import signal
from scipy.ndimage import uniform_filter1d

from governance.content.audio import SAMPLE_RATE

N_FFT: Final = 512
HOP: Final = 256
FRAME_SECONDS: Final = HOP / SAMPLE_RATE
FRAMES_PER_BLOCK: Final = int(SAMPLE_RATE / HOP)  # 43 frames, 0.998 s
WHITEN_FRAMES: Final = 129  # the running mean's window, 3 s
PEAK_BINS: Final = 15  # local-maximum neighbourhood: 15 bins (323 Hz) ...
PEAK_FRAMES: Final = 9  # ... by 9 frames (209 ms)
PEAKS_PER_BLOCK: Final = 50
FANOUT: Final = 6
LOOKAHEAD: Final = 39
F_BITS: Final = 8
DF_BITS: Final = 6
DT_BITS: Final = 8
DF_MAX: Final = (1 << (DF_BITS - 1)) - 1  # 31 bins, 667 Hz
DT_MAX: Final = (1 << DT_BITS) - 1  # 255 frames, 5.9 s
HASH_BITS: Final = F_BITS + DF_BITS + DT_BITS
# A floor under the magnitude, so digital silence is flat (and has no peaks) instead of -inf.
_FLOOR: Final = 1e-6


def spectrogram(samples: np.ndarray) -> np.ndarray:
    """Whitened log magnitude, shape (255 bins, frames), float32.

    The numbers of ``scipy.signal.stft(samples, SAMPLE_RATE, nperseg=N_FFT, noverlap=N_FFT -
    HOP, boundary=None, padded=False)`` (tests/content/test_landmarks_max.py), computed as it
    computes them (the Hann window in the transform's complex type, its real part times each
    frame, one real FFT, the spectrum times 1 / the window's sum), but for the bins kept alone
    and without its validation and copies: 0.030 s for 3 minutes instead of 0.035."""
    if len(samples) < N_FFT:
        return np.zeros((N_FFT // 2 - 1, 0), dtype=np.float32)
    window, scale = _window(np.result_type(samples, np.complex64))
    frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP]
    z = scipy.fft.rfft(window * frames, axis=-1)[:, 1 : N_FFT // 2]
    z *= scale
    magnitude = np.abs(z)
    magnitude += _FLOOR
    s: np.ndarray = np.log(magnitude, out=magnitude).astype(np.float32, copy=False).T
    s -= uniform_filter1d(s, size=WHITEN_FRAMES, axis=1, mode="nearest")
    return s


@functools.cache
def _window(dtype: np.dtype[np.complexfloating]) -> tuple[np.ndarray, np.complexfloating]:
    """The Hann window's real part and 1 / its sum, as ``scipy.signal.stft`` takes them for a
    transform of ``dtype``."""
    window = signal.get_window("hann", N_FFT).astype(dtype)
    scale: np.complexfloating = 1.0 / window.sum()
    return window.real.copy(), scale


def _running_max(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """The maximum of each ``size`` (odd) neighbours of ``x`` along ``axis``, centred, outside
    the array counting as -inf: scipy's ``maximum_filter1d(x, size, axis, mode="constant",
    cval=-inf)``, the same numbers (a maximum is exact, whatever the order it is taken in), in
    a quarter of its CPU time. Windows of 1, 2, 4, 8 ... samples by doubling, then two
    overlapping windows of the largest power of two make ``size``."""
    half = size // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (half, half)
    m = np.pad(x, pad, constant_values=-np.inf)
    n, width = x.shape[axis], 1

    def part(a: np.ndarray, start: int, stop: int) -> np.ndarray:
        index: list[slice] = [slice(None)] * a.ndim
        index[axis] = slice(start, stop)
        return a[tuple(index)]

    while 2 * width <= size:  # m[i] = max(padded[i : i + 2 * width])
        length = m.shape[axis] - width
        m = np.maximum(part(m, 0, length), part(m, width, width + length))
        width *= 2
    out: np.ndarray = np.maximum(part(m, 0, n), part(m, size - width, size - width + n))
    return out


def local_maxima(spec: np.ndarray, neighbourhood: tuple[int, int]) -> np.ndarray:
    """Where ``spec`` (bins x frames) is the maximum of its ``neighbourhood`` (bins, frames;
    odd) and above its bin's mean (a whitened spectrogram's 0): a boolean array like it."""
    local = _running_max(_running_max(spec, neighbourhood[0], axis=0), neighbourhood[1], axis=1)
    found: np.ndarray = (spec == local) & (spec > 0)
    return found


def peaks(
    spec: np.ndarray,
    *,
    per_block: int = PEAKS_PER_BLOCK,
    neighbourhood: tuple[int, int] = (PEAK_BINS, PEAK_FRAMES),
) -> tuple[np.ndarray, np.ndarray]:
    """The kept peaks as (bins 1-255, frames), int32, sorted by frame then bin: local maxima
    over ``neighbourhood`` (bins, frames; odd), the ``per_block`` strongest of each block.
    (The parameters are the fingerprint's; other values are for studies of the query side,
    docs/studies/fingerprint/.)"""
    if spec.shape[1] == 0:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    fi, ti = np.nonzero(local_maxima(spec, neighbourhood))
    strength = spec[fi, ti]
    block = ti // FRAMES_PER_BLOCK
    order = np.lexsort((-strength, block))
    fi, ti, block = fi[order], ti[order], block[order]
    rank = np.arange(len(block)) - np.searchsorted(block, block, side="left")
    keep = rank < per_block
    fi, ti = fi[keep], ti[keep]
    order = np.lexsort((fi, ti))
    return (fi[order] + 1).astype(np.int32), ti[order].astype(np.int32)


def pairs(
    bins: np.ndarray, frames: np.ndarray, *, fanout: int = FANOUT, lookahead: int = LOOKAHEAD
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes and anchor frames of the peak pairs, int32, sorted by frame then hash: each peak
    with the first ``fanout`` of the next ``lookahead`` peaks in its target zone (the
    fingerprint's parameters; other values are for studies, as in :func:`peaks`)."""
    n = len(frames)
    accepted = np.zeros(n, dtype=np.int32)
    hashes: list[np.ndarray] = []
    anchors: list[np.ndarray] = []
    for k in range(1, min(lookahead, n - 1) + 1):
        dt = frames[k:] - frames[:-k]
        df = bins[k:] - bins[:-k]
        ok = (dt >= 1) & (dt <= DT_MAX) & (np.abs(df) <= DF_MAX) & (accepted[:-k] < fanout)
        idx = np.nonzero(ok)[0]
        accepted[idx] += 1
        f1 = bins[idx].astype(np.int64)
        packed = (f1 << (DF_BITS + DT_BITS)) | ((df[idx] + DF_MAX + 1) << DT_BITS) | dt[idx]
        hashes.append(packed)
        anchors.append(frames[idx])
    if not hashes:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    h = np.concatenate(hashes).astype(np.int32)
    t = np.concatenate(anchors).astype(np.int32)
    order = np.lexsort((h, t))
    return h[order], t[order]


def landmarks(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, anchor frames) of mono float samples at :data:`SAMPLE_RATE`."""
    bins, frames = peaks(spectrogram(samples))
    return pairs(bins, frames)
