"""The ``composition`` space: the same composition re-recorded, transposed or at another tempo.

A cover keeps the harmony and melody of a work and changes almost everything else: the key (a
transposition rolls the 12 pitch classes), the tempo (it stretches time) and the instruments.
The representation is the 2-D Fourier transform magnitude (2DFTM) of chroma patches, after
Bertin-Mahieux & Ellis, "Large-scale cover song recognition using the 2D Fourier transform
magnitude" (ISMIR 2012):

1. Resample (libsoxr) to ``CHROMA_RATE`` (2,756.25 Hz, a quarter of the decoded audio's
   11,025) and take a chroma from the magnitude spectrum of an ``N_FFT``-point STFT (0.74 s, hop
   93 ms) folded into 12 pitch classes by librosa's chroma filter bank, each frame scaled to
   a maximum of 1, tuned to the tuning librosa estimates from the spectrum's middle
   ``TUNING_SECONDS`` (60). Version 2 took the CQT chroma at 11,025 Hz (``chroma_cqt``):
   this one costs a quarter of its CPU time and found as many covers on the calibration set
   (docs/matching.md, "The composition space").
2. Average it into one chroma column per second (``FRAMES_PER_SECOND``). The paper syncs the
   chroma to tracked beats instead; on the Wesnoth calibration set, fixed one-second frames
   found more of the transposed, tempo-changed and resynthesised tracks (docs/matching.md) and
   skip the beat tracker (onset strength and dynamic programming: 22-38 % more CPU time than
   the chroma on one track). A tempo change scales a patch's temporal frequencies; registered
   works are therefore also read in columns of 0.92 to 1.08 s (``TEMPO_SCALES``).
3. Cut the audio into ``SEGMENT_SECONDS`` segments every ``HOP_SECONDS`` (the last one ends
   with the audio). In each, take every ``PATCH``-column patch (12 x 16 s, one column apart) and
   the magnitude of its 2-D FFT: the magnitude ignores a circular shift of the pitch classes
   (so any transposition) and the patch's start in time. Only the non-negative temporal
   frequencies are kept (the rest mirror them): 12 x 9 = 108 values.
4. The segment's vector is the median of its patches' 2DFTMs, ``log1p``-compressed, minus its
   own mean, minus ``CENTRE`` (the mean vector of music outside the calibration set, so that
   cosine compares what differs between compositions rather than what all music shares), then
   L2-normalised.

``embed`` returns a query's vectors, one per segment, ``(n, DIMENSION)`` float32;
``embed_reference`` a registered work's, its segments read at its own tempo and at
``TEMPO_SCALES`` (±4 and ±8 %), so that a cover at another tempo meets a reading near its
own. One vector per segment because a 30-s excerpt must find the part of a work it comes
from: a whole-track median blurs every part together, and 30-s excerpts matched a whole-track
vector far worse (docs/matching.md). A query is
scored against a work by ``score``: for each query segment, its best cosine among the work's
segments; the median of those over the query's segments. With pgvector this is one top-k
nearest-neighbour search per query segment, aggregated per work. ``THRESHOLD`` applies to
that score.

Pure numpy and librosa; no Django. Too short or silent input raises ``ValueError``.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import numpy.typing as npt
import soxr

SPACE = "composition"
MODEL = "chroma-2dftm"
# 3: the chroma of an STFT at a quarter of SAMPLE_RATE instead of a CQT (a quarter of the CPU
# time; docs/matching.md, "Decoding and import speed"), with its own CENTRE and THRESHOLD.
# 2 estimated the CQT's tuning from the middle minute, 1 from the whole audio.
VERSION = "3"
SAMPLE_RATE = 11_025  # the decoded audio's rate (governance.content.audio)
CHROMA_RATE = SAMPLE_RATE / 4  # 2,756.25 Hz: pitches up to 1.2 kHz (the filter's pass band)
N_FFT = 2048  # 0.74 s, 1.35-Hz bins: a semitone is 2.9 bins at C2 (65 Hz)
CHROMA_HOP = 256  # 93 ms
BINS_PER_OCTAVE = 36  # the tuning's resolution: a third of a semitone, refined to 0.01 bin
# The tuning (how far the music's A lies from 440 Hz) is estimated from the middle minute at
# most: a recording's tuning does not change along it.
TUNING_SECONDS = 60
FRAMES_PER_SECOND = 1
PATCH = 16  # chroma columns (seconds) per 2-D FFT patch
SEGMENT_SECONDS = 30
HOP_SECONDS = 10
MIN_SECONDS = SEGMENT_SECONDS  # the shortest query the threshold was calibrated on
DIMENSION = 12 * (PATCH // 2 + 1)  # 108
# Cosine score (see ``score``) at or above which a query is taken as the same composition.
# Calibrated by benchmarks/composition.py (docs/matching.md, "The composition space").
THRESHOLD = 0.78
# A registered work is also read at these tempi (embed_reference): 8 % faster or slower
# moves a 2DFTM's temporal frequencies out of their bins; with works read at their own tempo
# only, 31 of 40 whole-track queries at ±8 % scored below the threshold (docs/matching.md).
TEMPO_SCALES = (0.92, 0.96, 1.0, 1.04, 1.08)
SILENCE_RMS = 1e-4  # below this (-80 dBFS) there is no pitch content to describe

Vectors = npt.NDArray[np.float32]

# Mean segment vector (before centring) of the nine Wesnoth files outside the calibration set
# (defeat, defeat2, elf-land, main_menu, sad, silence, transience, victory, victory2), 30-s
# segments every 5 s; refit and compared by benchmarks/composition.py.
CENTRE: tuple[float, ...] = (
    3.216624,
    0.542905,
    0.466878,
    0.147141,
    0.182747,
    0.088611,
    -0.131818,
    0.089559,
    0.367041,
    0.724796,
    0.339832,
    0.166654,
    -0.051441,
    -0.067082,
    -0.301408,
    -0.462701,
    -0.318104,
    -0.486397,
    0.876077,
    0.432896,
    0.205594,
    0.044633,
    -0.073208,
    -0.039876,
    -0.287355,
    -0.461038,
    -0.299456,
    1.125088,
    0.673479,
    0.625224,
    0.328576,
    -0.162076,
    -0.139305,
    -0.343847,
    -0.352183,
    -0.388170,
    0.494003,
    0.125219,
    0.170223,
    0.054999,
    -0.236898,
    -0.193137,
    -0.318860,
    -0.334115,
    -0.493810,
    1.342678,
    0.345712,
    0.214376,
    -0.087348,
    -0.279819,
    -0.368111,
    -0.460423,
    -0.501250,
    -0.553463,
    0.266447,
    -0.020198,
    -0.175212,
    -0.433785,
    -0.545114,
    -0.738653,
    -0.775575,
    -0.915572,
    -0.878326,
    1.342678,
    0.228095,
    0.037436,
    -0.022193,
    -0.448959,
    -0.484321,
    -0.346196,
    -0.647888,
    -0.553463,
    0.494003,
    0.130908,
    0.356226,
    -0.038995,
    -0.050428,
    -0.222075,
    -0.417312,
    -0.557564,
    -0.493810,
    1.125088,
    0.576163,
    0.331906,
    -0.019826,
    -0.077040,
    -0.025514,
    -0.254088,
    -0.229780,
    -0.388170,
    0.876077,
    0.356911,
    0.256535,
    0.223232,
    -0.012476,
    -0.191161,
    -0.437434,
    -0.508286,
    -0.299456,
    0.724796,
    0.243474,
    0.160678,
    -0.089190,
    -0.133027,
    -0.263263,
    -0.332023,
    -0.416751,
    -0.486397,
)


def _chroma(samples: npt.NDArray[np.floating], rate: int) -> npt.NDArray[np.float64]:
    """Chroma at CHROMA_RATE, one column every CHROMA_HOP samples (each scaled to a maximum
    of 1): the magnitude spectrum of an N_FFT-point STFT folded into 12 pitch classes by
    librosa's chroma filter bank, tuned to the tuning estimated from the spectrum's middle
    TUNING_SECONDS (at most)."""
    x = soxr.resample(np.asarray(samples, dtype=np.float32), rate, CHROMA_RATE, "HQ")
    magnitude = np.abs(librosa.stft(x, n_fft=N_FFT, hop_length=CHROMA_HOP))
    span = round(TUNING_SECONDS * CHROMA_RATE / CHROMA_HOP)
    middle = magnitude[:, max(0, (magnitude.shape[1] - span) // 2) :][:, :span]
    tuning = librosa.estimate_tuning(
        S=middle, sr=CHROMA_RATE, n_fft=N_FFT, bins_per_octave=BINS_PER_OCTAVE
    )
    bank = librosa.filters.chroma(sr=CHROMA_RATE, n_fft=N_FFT, tuning=tuning)
    chroma = librosa.util.normalize(bank @ magnitude, norm=np.inf, axis=0)
    return np.asarray(chroma, dtype=np.float64)


def _columns(chroma: npt.NDArray[np.float64], scale: float = 1.0) -> npt.NDArray[np.float64]:
    """One chroma column per ``scale`` seconds (per second at 1.0), each scaled to a maximum
    of 1 (or all 0). Read in 1.08-s columns, a work lines up with a query played 8 % faster
    and read in 1-s columns."""
    step = CHROMA_RATE / CHROMA_HOP / FRAMES_PER_SECOND * scale
    count = int(chroma.shape[1] / step)
    edges = np.round(np.arange(count + 1) * step).astype(int)
    summed = np.add.reduceat(chroma[:, : edges[-1]], edges[:-1], axis=1)
    per_column = summed / np.diff(edges)
    peak = per_column.max(axis=0, keepdims=True)
    scaled: npt.NDArray[np.float64] = np.divide(
        per_column, peak, out=np.zeros_like(per_column), where=peak > 0
    )
    return scaled


def _segment_vector(columns: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Median 2DFTM of a segment's patches, log-compressed and centred on its own mean."""
    vectors = _segment_vectors(columns, [0], columns.shape[1])
    return np.asarray(vectors[0], dtype=np.float64)


def _segment_vectors(
    columns: npt.NDArray[np.float64], starts: list[int], width: int
) -> npt.NDArray[np.float64]:
    """``_segment_vector`` of each ``width``-column segment starting at ``starts``: every
    patch's 2DFTM is computed once, though overlapping segments share most of their patches."""
    patches = np.lib.stride_tricks.sliding_window_view(columns, PATCH, axis=1)
    magnitudes = np.abs(np.fft.rfft2(patches.transpose(1, 0, 2), axes=(1, 2)))
    count = width - PATCH + 1  # patches a segment
    windows = np.lib.stride_tricks.sliding_window_view(magnitudes, count, axis=0)[starts]
    vectors = np.log1p(np.median(windows, axis=-1).reshape(len(starts), -1))
    return np.asarray(vectors - vectors.mean(axis=1, keepdims=True), dtype=np.float64)


def segment_starts(columns: int) -> list[int]:
    """Where the segments start, in columns: every HOP_SECONDS, the last ending with the audio."""
    width = SEGMENT_SECONDS * FRAMES_PER_SECOND
    step = HOP_SECONDS * FRAMES_PER_SECOND
    starts = list(range(0, columns - width + 1, step))
    if starts[-1] != columns - width:
        starts.append(columns - width)
    return starts


def _checked_chroma(samples: npt.NDArray[np.floating], rate: int) -> npt.NDArray[np.float64]:
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate}")
    if samples.ndim != 1:
        raise ValueError(f"samples must be mono (one dimension), not shape {samples.shape}")
    seconds = len(samples) / rate
    if seconds < MIN_SECONDS:
        raise ValueError(
            f"audio too short for the composition space: {seconds:.1f} s < {MIN_SECONDS} s"
        )
    if math.sqrt(float(np.mean(np.square(samples, dtype=np.float64)))) < SILENCE_RMS:
        raise ValueError("audio is silent: no pitch content for the composition space")
    return _chroma(samples, rate)


def _vectors(chroma: npt.NDArray[np.float64], scales: tuple[float, ...]) -> Vectors:
    width = SEGMENT_SECONDS * FRAMES_PER_SECOND
    rows = []
    for scale in scales:
        columns = _columns(chroma, scale)
        if columns.shape[1] < width:  # a short clip read faster, or rounding at MIN_SECONDS
            columns = np.pad(columns, ((0, 0), (0, width - columns.shape[1])), mode="edge")
        rows.append(_segment_vectors(columns, segment_starts(columns.shape[1]), width))
    vectors = np.concatenate(rows) - np.asarray(CENTRE, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def embed(samples: npt.NDArray[np.floating], rate: int) -> Vectors:
    """A query's composition vectors, from mono audio at ``rate`` Hz: one row per 30-s segment.

    Raises ValueError for audio shorter than MIN_SECONDS, silent, or not one-dimensional.
    """
    return _vectors(_checked_chroma(samples, rate), (1.0,))


def embed_reference(samples: npt.NDArray[np.floating], rate: int) -> Vectors:
    """A registered work's vectors: its segments read at each of TEMPO_SCALES, so that a
    query up to about 10 % faster or slower meets a reading at nearly its own tempo.
    ``len(TEMPO_SCALES)`` times as many rows as ``embed`` (a little fewer segments at the
    faster readings). Raises like ``embed``."""
    return _vectors(_checked_chroma(samples, rate), TEMPO_SCALES)


def score(query: Vectors, reference: Vectors) -> float:
    """How closely a query's segments match a work's: median over the query's segments of
    each one's best cosine similarity among the work's segments (rows are unit length)."""
    best = (np.asarray(query, np.float64) @ np.asarray(reference, np.float64).T).max(axis=1)
    return float(np.median(best))
