"""Seeded synthetic music and the transforms a licensee's copy goes through, in numpy and PyAV.

Each "track" is a few bars of chords, a melody and a drum-like noise pattern: notes with
decaying harmonics, attack and release envelopes, on a random scale and tempo. Different seeds
give unrelated tracks. It is not music, but it has what the landmark fingerprint looks at:
sharp spectral peaks that start and stop.
"""

from __future__ import annotations

import io

import av
import numpy as np
from av.audio.resampler import AudioResampler

RATE = 22_050  # the rate tracks are made at, as a source file would be (not 11,025)

_SCALES = ([0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10], [0, 2, 4, 7, 9])


def _note(freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    tone = np.zeros(n)
    for h in range(1, 7):
        if freq * h >= RATE / 2:
            break
        stretch = 1.0 + rng.uniform(0.0, 0.002) * h  # a little inharmonicity, as strings have
        tone += rng.uniform(0.3, 1.0) / h * np.sin(2 * np.pi * freq * h * stretch * t)
    attack = np.minimum(1.0, t / 0.01)
    decay = np.exp(-t * rng.uniform(1.5, 6.0))
    release = np.minimum(1.0, (seconds - t) / 0.03)
    shaped: np.ndarray = tone * attack * decay * np.clip(release, 0.0, 1.0)
    return shaped


def music(seed: int, seconds: float) -> np.ndarray:
    """A seeded track of ``seconds`` at :data:`RATE`, mono float32, peak about 0.7."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    beat = 60.0 / rng.uniform(90, 150)
    out = np.zeros(n + int(5 * beat * RATE))  # room for the last bar's tails
    scale = _SCALES[int(rng.integers(len(_SCALES)))]
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)

    def pitch(degree: int) -> float:
        octave, step = divmod(degree, len(scale))
        return float(root * 2 ** (octave + scale[step] / 12))

    t = 0.0
    while t < seconds:
        start = int(t * RATE)
        chord = int(rng.integers(0, 7))
        for d in (chord, chord + 2, chord + 4):  # a triad held for a bar
            note = _note(pitch(d), 4 * beat, rng) * 0.25
            out[start : start + len(note)] += note[: len(out) - start]
        for i in range(8):  # eight melody notes, some rests
            if rng.random() < 0.2:
                continue
            s = start + int(i * beat / 2 * RATE)
            note = _note(pitch(int(rng.integers(7, 18))), beat / 2, rng) * 0.4
            out[s : s + len(note)] += note[: len(out) - s]
        for i in range(4):  # a noise burst on each beat, alternately low and high
            s = start + int(i * beat * RATE)
            m = int(0.08 * RATE)
            burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.015 * RATE))
            if i % 2:
                burst = np.diff(burst, prepend=0.0)
            out[s : s + m] += 0.3 * burst[: len(out) - s]
        t += 4 * beat
    out = out[:n] / np.max(np.abs(out[:n])) * 0.7
    return np.asarray(out, dtype=np.float32)


def noise(seed: int, seconds: float) -> np.ndarray:
    """White noise at :data:`RATE`, RMS 0.1."""
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 0.1).astype(
        np.float32
    )


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def add_white_noise(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    n = np.random.default_rng(seed).standard_normal(len(x))
    n *= rms(x) / rms(n) / 10 ** (snr_db / 20)
    return np.clip(x + n, -1.0, 1.0).astype(np.float32)


def gain(x: np.ndarray, db: float) -> np.ndarray:
    return (x * 10 ** (db / 20)).astype(np.float32)


# container format, encoder, encoder rate, bit rate (None: lossless)
ENCODINGS: dict[str, tuple[str, str, int, int | None]] = {
    "wav": ("wav", "pcm_s16le", RATE, None),
    "flac": ("flac", "flac", RATE, None),
    "mp3": ("mp3", "libmp3lame", 44_100, 128_000),
    "ogg": ("ogg", "vorbis", 44_100, 96_000),
    "opus": ("ogg", "libopus", 48_000, 64_000),
    "m4a": ("mp4", "aac", 44_100, 64_000),
    "aac": ("adts", "aac", 44_100, 64_000),
}


def encode(x: np.ndarray, kind: str, *, stereo: bool = False) -> bytes:
    """Encode mono float samples at :data:`RATE` into a file of ``kind`` (see ENCODINGS)."""
    fmt, codec, rate, bit_rate = ENCODINGS[kind]
    # FFmpeg's own Vorbis encoder (the only one in PyAV's wheel) writes stereo only.
    layout = "stereo" if stereo or codec == "vorbis" else "mono"
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        # ... and is marked experimental.
        options = {"strict": "experimental"} if codec == "vorbis" else {}
        stream = container.add_stream(codec, rate=rate, layout=layout, options=options)
        assert isinstance(stream, av.AudioStream)
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        resampler = AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        pcm = np.clip(x, -1.0, 1.0).astype(np.float32).reshape(1, -1)
        frames = []
        for i in range(0, pcm.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, i : i + 4096]), format="flt", layout="mono"
            )
            frame.sample_rate = RATE
            frames.extend(resampler.resample(frame))
        frames.extend(resampler.resample(None))
        for frame in frames:
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()
