"""Audio for tests, synthesised here: a few seconds of tones as a 16-bit mono WAV file (the
standard library's ``wave``), different for each ``seed``."""

from __future__ import annotations

import io
import wave

import numpy as np

RATE = 11_025


def tones(seconds: float = 10.0, *, seed: int = 0, rate: int = RATE) -> bytes:
    """A WAV file of a melody: a new random pitch every quarter second, with a harmonic and a
    little noise, so that its spectrogram has peaks to fingerprint."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    note = int(0.25 * rate)
    pitches = np.repeat(rng.uniform(200, 2000, size=n // note + 1), note)[:n]
    phase = 2 * np.pi * np.cumsum(pitches) / rate
    signal = 0.5 * np.sin(phase) + 0.25 * np.sin(2 * phase) + 0.02 * rng.standard_normal(n)
    signal *= 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 2 * t))  # notes that start and fade
    pcm = (np.clip(signal, -1, 1) * 32_000).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()
