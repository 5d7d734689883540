"""The ``composition`` space: the same composition re-recorded, transposed or at another tempo.

A cover keeps the harmony and melody of a work and changes almost everything else: the key (a
transposition rolls the 12 pitch classes), the tempo (it stretches time) and the instruments.
The representation is the 2-D Fourier transform magnitude (2DFTM) of chroma patches, after
Bertin-Mahieux & Ellis, "Large-scale cover song recognition using the 2D Fourier transform
magnitude" (ISMIR 2012):

1. Resample to ``SAMPLE_RATE`` (11,025 Hz) and take the CQT chroma (librosa ``chroma_cqt``, hop
   512, 36 bins an octave, each frame scaled to a maximum of 1), tuned to the tuning librosa
   estimates from the middle ``TUNING_SECONDS`` (60) of the audio.
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

SPACE = "composition"
MODEL = "chroma-2dftm"
# 2: the tuning estimated from the middle minute (TUNING_SECONDS), and the audio decoded by
# the fingerprint space's version-2 decoding (libsoxr); 1 estimated it from the whole audio.
VERSION = "2"
SAMPLE_RATE = 11_025
CHROMA_HOP = 512  # samples: 46 ms at 11,025 Hz
BINS_PER_OCTAVE = 36  # CQT bins (three a semitone), folded into 12 pitch classes
# The tuning (how far the music's A lies from 440 Hz, in fractions of a CQT bin) is estimated
# from the middle minute at most. Version 1 estimated it from the whole track, which cost as
# much CPU as the CQT itself for a 3-minute track (librosa's piptrack over every frame); a
# recording's tuning does not change along it.
TUNING_SECONDS = 60
FRAMES_PER_SECOND = 1
PATCH = 16  # chroma columns (seconds) per 2-D FFT patch
SEGMENT_SECONDS = 30
HOP_SECONDS = 10
MIN_SECONDS = SEGMENT_SECONDS  # the shortest query the threshold was calibrated on
DIMENSION = 12 * (PATCH // 2 + 1)  # 108
# Cosine score (see ``score``) at or above which a query is taken as the same composition.
# Calibrated by benchmarks/composition.py (docs/matching.md, "The composition space").
THRESHOLD = 0.82
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
    2.832801,
    0.279676,
    0.172521,
    0.082154,
    -0.203481,
    -0.037355,
    -0.022552,
    -0.064299,
    -0.098399,
    0.449094,
    0.396454,
    -0.017676,
    -0.076770,
    -0.146337,
    -0.305130,
    -0.277785,
    -0.209764,
    -0.429744,
    0.869957,
    0.257099,
    0.267227,
    -0.161503,
    -0.156773,
    -0.066239,
    -0.203252,
    -0.382443,
    -0.509268,
    1.192323,
    0.549815,
    0.512108,
    0.205465,
    -0.239611,
    -0.251820,
    -0.323900,
    -0.520273,
    -0.549821,
    0.588372,
    0.096835,
    0.318507,
    0.171054,
    -0.271088,
    -0.075217,
    -0.302711,
    -0.216699,
    -0.558937,
    1.331716,
    0.248699,
    0.289544,
    -0.096981,
    -0.214638,
    -0.422801,
    -0.349416,
    -0.425554,
    -0.549280,
    0.455354,
    0.009048,
    0.194027,
    -0.195808,
    -0.501844,
    -0.458270,
    -0.420507,
    -0.756194,
    -0.618424,
    1.331716,
    0.126302,
    0.151158,
    0.022417,
    -0.271396,
    -0.381247,
    -0.334069,
    -0.464821,
    -0.549280,
    0.588372,
    0.329150,
    0.448893,
    0.010007,
    -0.042005,
    -0.190353,
    -0.260524,
    -0.331250,
    -0.558937,
    1.192323,
    0.531579,
    0.270623,
    0.021778,
    -0.205070,
    0.021291,
    -0.197748,
    -0.382239,
    -0.549821,
    0.869957,
    0.176902,
    0.175133,
    0.246551,
    -0.032972,
    -0.185161,
    -0.305020,
    -0.508545,
    -0.509268,
    0.449094,
    0.097980,
    0.168235,
    -0.044446,
    -0.044699,
    -0.145313,
    -0.189653,
    -0.197164,
    -0.429744,
)


def _chroma(samples: npt.NDArray[np.floating], rate: int) -> npt.NDArray[np.float64]:
    """CQT chroma at SAMPLE_RATE, one column every CHROMA_HOP samples, tuned to the tuning
    estimated from (at most) the middle TUNING_SECONDS."""
    x = np.asarray(samples, dtype=np.float32)
    if rate != SAMPLE_RATE:
        x = librosa.resample(x, orig_sr=rate, target_sr=SAMPLE_RATE)
    span = TUNING_SECONDS * SAMPLE_RATE
    middle = x[max(0, (len(x) - span) // 2) :][:span]
    tuning = librosa.estimate_tuning(y=middle, sr=SAMPLE_RATE, bins_per_octave=BINS_PER_OCTAVE)
    chroma = librosa.feature.chroma_cqt(
        y=x, sr=SAMPLE_RATE, hop_length=CHROMA_HOP, bins_per_octave=BINS_PER_OCTAVE,
        tuning=tuning,
    )  # fmt: skip
    return np.asarray(chroma, dtype=np.float64)


def _columns(chroma: npt.NDArray[np.float64], scale: float = 1.0) -> npt.NDArray[np.float64]:
    """One chroma column per ``scale`` seconds (per second at 1.0), each scaled to a maximum
    of 1 (or all 0). Read in 1.08-s columns, a work lines up with a query played 8 % faster
    and read in 1-s columns."""
    step = SAMPLE_RATE / CHROMA_HOP / FRAMES_PER_SECOND * scale
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
    count = columns.shape[1] - PATCH + 1
    patches = np.lib.stride_tricks.sliding_window_view(columns, PATCH, axis=1)[:, :count]
    magnitudes = np.abs(np.fft.rfft2(patches.transpose(1, 0, 2), axes=(1, 2)))
    vector = np.log1p(np.median(magnitudes, axis=0).ravel())
    return np.asarray(vector - vector.mean(), dtype=np.float64)


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
        rows += [
            _segment_vector(columns[:, a : a + width]) for a in segment_starts(columns.shape[1])
        ]
    vectors = np.stack(rows) - np.asarray(CENTRE, dtype=np.float64)
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
