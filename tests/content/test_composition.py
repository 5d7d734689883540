"""The composition space on synthetic music: a seeded melody over chords, transposed two
semitones and played 8 % faster, still scores above THRESHOLD against the original; another
seeded piece does not. No database; the signals are built here in numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from governance.content import composition

RATE = 11_025
MAJOR = (0, 2, 4, 5, 7, 9, 11)


def piece(
    seed: int, *, transpose: int = 0, tempo: float = 1.0, seconds: float = 60.0
) -> np.ndarray:
    """A seeded random tune at 100 bpm: an 8-bar chord progression (a triad per 4-beat bar)
    under a melody of quarter and eighth notes from the major scale, each note a few harmonics
    with a decaying envelope. ``transpose`` shifts every pitch by semitones; ``tempo`` scales
    the speed (1.08 = 8 % faster), the audio lasting ``seconds`` all the same."""
    rng = np.random.default_rng(seed)
    roots = rng.choice(MAJOR, size=8)
    beat = 0.6 / tempo
    out = np.zeros(int(seconds * RATE), dtype=np.float64)

    def note(start: float, length: float, midi: int, gain: float) -> None:
        a = int(start * RATE)
        n = min(int(length * RATE), len(out) - a)
        if n <= 0:
            return
        t = np.arange(n) / RATE
        f0 = 440.0 * 2 ** ((midi + transpose - 69) / 12)
        tone = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in (1, 2, 3))
        out[a : a + n] += gain * tone * np.exp(-2 * t / length)

    bar = 0
    while bar * 4 * beat < seconds:
        at = bar * 4 * beat
        root = 48 + int(roots[bar % 8])
        for interval in (0, 4, 7):
            note(at, 4 * beat, root + interval, 0.3)
        # The melody repeats with the progression: the same 8 bars, the same notes.
        tune = np.random.default_rng([seed, bar % 8])
        beats = 0.0
        while beats < 4:
            length = float(tune.choice((0.5, 1.0)))
            note(at + beats * beat, length * beat, 72 + int(tune.choice(MAJOR)), 0.5)
            beats += length
        bar += 1
    return (out / np.max(np.abs(out))).astype(np.float32)


@pytest.fixture(scope="module")
def original() -> np.ndarray:
    """The tune as a registered work: its segments read at each of the TEMPO_SCALES."""
    return composition.embed_reference(piece(7), RATE)


def test_vectors_have_the_space_dimension_one_row_per_segment(original: np.ndarray) -> None:
    # 60 s in 30-s segments every 10 s: starts 0, 10, 20 and 30.
    query = composition.embed(piece(7), RATE)
    assert query.shape == (4, composition.DIMENSION)
    assert query.dtype == original.dtype == np.float32
    assert composition.DIMENSION <= 2000
    # Read in columns of 0.92, 0.96, 1, 1.04 and 1.08 s, 60 s make 65, 62, 60, 57 and 55
    # columns: 5, 5, 4, 4 and 4 segments (every 10 columns, the last ending with the audio).
    assert composition.TEMPO_SCALES == (0.92, 0.96, 1.0, 1.04, 1.08)
    assert original.shape == (22, composition.DIMENSION)
    assert np.allclose(np.linalg.norm(original, axis=1), 1.0, atol=1e-5)
    assert np.allclose(query, original[10:14])  # the reading at its own tempo


def test_a_transposition_by_two_semitones_is_the_same_composition(original: np.ndarray) -> None:
    for semitones in (2, -2):
        shifted = composition.embed(piece(7, transpose=semitones), RATE)
        assert composition.score(shifted, original) >= composition.THRESHOLD


def test_the_same_score_8_percent_faster_or_slower_is_the_same_composition(
    original: np.ndarray,
) -> None:
    for tempo in (1.08, 0.92):
        played = composition.embed(piece(7, tempo=tempo), RATE)
        assert composition.score(played, original) >= composition.THRESHOLD


def test_another_tune_is_not_the_same_composition(original: np.ndarray) -> None:
    for seed in (8, 9, 10):
        other = composition.embed(piece(seed), RATE)
        assert composition.score(other, original) < composition.THRESHOLD


def test_the_rate_is_taken_into_account(original: np.ndarray) -> None:
    at_22k = composition.embed(resample_poly(piece(7), 2, 1), 2 * RATE)  # 22,050 Hz
    assert composition.score(at_22k, original) >= composition.THRESHOLD


def test_too_short_silent_or_multichannel_audio_is_refused() -> None:
    short = piece(7, seconds=composition.MIN_SECONDS - 1)
    with pytest.raises(ValueError, match="too short"):
        composition.embed(short, RATE)
    with pytest.raises(ValueError, match="silent"):
        composition.embed(np.zeros(40 * RATE, dtype=np.float32), RATE)
    with pytest.raises(ValueError, match="mono"):
        composition.embed(np.stack([piece(7), piece(7)]), RATE)
