"""The ``voice`` space: an artist's voice (likeness), recognised in audio from the artist's own
reference recordings.

The model is Resemblyzer's speaker encoder (``resemblyzer`` 0.1.4, its weights inside the
package, nothing downloaded): a 3-layer LSTM trained with the generalised end-to-end (GE2E)
loss of Wan et al., "Generalized End-to-End Loss for Speaker Verification" (ICASSP 2018). It
maps 1.6 s of 40-band mel spectrogram at 16 kHz to a 256-d unit vector, close for the same
speaker and far for different ones.

``embed(samples, rate)``:

1. Resample to 16 kHz (``SAMPLE_RATE``) and raise the level to -30 dBFS (Resemblyzer's
   ``normalize_volume``, increase only). Audio under -80 dBFS RMS has no speech.
2. Find the speech with webrtcvad (mode 3, 30-ms frames, a moving average over 8 frames, the
   voiced regions widened by 6 frames: Resemblyzer's ``trim_long_silences``), and keep only it.
   No speech at all is ``ContentError("no_speech")``; less than ``MIN_SPEECH_SECONDS`` of it is
   ``too_short``.
3. Cut the speech into windows of about ``WINDOW_SECONDS`` (3.3 to 7.5 s; shorter speech is one
   window). Each window is one utterance vector: the L2-normalised mean of the encoder's vectors
   of its 1.6-s partials, 1.3 a second (Resemblyzer's ``embed_utterance``).

The result, :class:`Embedding`, holds the vectors (``(n, 256)`` float32, unit length) and, for
each window, the span of the *original* audio its speech came from, so that a match can say
which part of a query matched. A reference recording's vectors are stored as they are; a query
is scored against an artist by its best window's best cosine among the artist's vectors
(:func:`score`); ``THRESHOLD`` applies to it.

Pure: numpy, scipy, librosa, webrtcvad and torch; no Django. Torch and Resemblyzer load (about a
second) on the first :func:`encoder` call, not at import, so the licensee's client that never
embeds a voice does not need them. Torch runs on the CPU with ``threads()`` threads: the value of
``OMP_NUM_THREADS`` if set, else 1 (workers are processes; docs/configuration.md).
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from governance.content.audio import ContentError

SPACE: Final = "voice"
MODEL: Final = "resemblyzer-ge2e"
PACKAGE_VERSION: Final = "0.1.4"
VERSION: Final = f"{PACKAGE_VERSION}/1"
"""Resemblyzer's version (its weights), then this module's recipe (VAD, windows)."""
DIMENSION: Final = 256
METRIC: Final = "cosine"
# Cosine at or above which a query window is taken as the artist's voice. Calibrated by
# benchmarks/voice.py (docs/matching.md, "The voice space").
THRESHOLD: Final = 0.85
SAMPLE_RATE: Final = 16_000
WINDOW_SECONDS: Final = 5.0
MIN_SPEECH_SECONDS: Final = 1.6  # one partial: the least the encoder reads
SILENCE_RMS: Final = 1e-4  # -80 dBFS
PARTIALS_PER_SECOND: Final = 1.3
MIN_COVERAGE: Final = 0.75
BATCH: Final = 64  # partials per forward pass

# Resemblyzer's VAD parameters (resemblyzer.hparams), repeated so the mask is computed here.
_VAD_FRAME_MS: Final = 30
_VAD_AVERAGE: Final = 8
_VAD_DILATION: Final = 6
_TARGET_DBFS: Final = -30.0
_INT16_MAX: Final = 2**15 - 1

Vectors = npt.NDArray[np.float32]
Windows = tuple[tuple[tuple[float, ...], tuple[float, float]], ...]
"""A query's voice windows as an item carries them: each window's vector (rounded to
``DIGITS`` decimals) and where its speech lies in the audio (seconds)."""
DIGITS: Final = 6


@dataclass(frozen=True, eq=False)
class Embedding:
    """A recording's voice vectors, one per window of speech, and where each window's speech
    lies in the original audio (seconds from its start)."""

    vectors: Vectors
    windows: tuple[tuple[float, float], ...]
    speech_seconds: float
    seconds: float


_lock = threading.Lock()
_encoder: Any = None


def threads() -> int:
    """Torch's CPU threads: ``OMP_NUM_THREADS`` if it is a positive integer, else 1."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "") or 1))
    except ValueError:
        return 1


def encoder() -> Any:
    """Resemblyzer's ``VoiceEncoder`` on the CPU, loaded once per process."""
    global _encoder
    with _lock:
        if _encoder is None:
            import torch

            torch.set_num_threads(threads())
            with warnings.catch_warnings():
                # webrtcvad (imported by resemblyzer) imports the deprecated pkg_resources, and
                # resemblyzer.audio a deprecated scipy namespace.
                warnings.simplefilter("ignore", UserWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                from resemblyzer import VoiceEncoder

            model = VoiceEncoder(device="cpu", verbose=False)
            model.eval()
            _encoder = model
        return _encoder


def _resemblyzer_audio() -> Any:
    with warnings.catch_warnings():
        # webrtcvad (imported by resemblyzer.audio) imports the deprecated pkg_resources, and
        # resemblyzer.audio a deprecated scipy namespace.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        from resemblyzer import audio

    return audio


def _vad() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import webrtcvad

    return webrtcvad.Vad(3)


def _resampled(samples: npt.NDArray[np.floating], rate: int) -> npt.NDArray[np.float32]:
    x = np.asarray(samples, dtype=np.float32)
    if rate != SAMPLE_RATE:
        import librosa

        x = librosa.resample(x, orig_sr=rate, target_sr=SAMPLE_RATE)
    return np.asarray(x, dtype=np.float32)


def speech_mask(wav: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Which samples of ``wav`` (16 kHz, in [-1, 1]) are speech, as Resemblyzer's
    ``trim_long_silences`` decides (samples past the last whole 30-ms frame are not)."""
    from scipy.ndimage import binary_dilation

    frame = _VAD_FRAME_MS * SAMPLE_RATE // 1000
    frames = len(wav) // frame
    mask = np.zeros(len(wav), dtype=bool)
    if frames == 0:
        return mask
    pcm = np.round(np.clip(wav[: frames * frame], -1, 1) * _INT16_MAX).astype("<i2").tobytes()
    vad = _vad()
    flags = np.array(
        [
            vad.is_speech(pcm[i * frame * 2 : (i + 1) * frame * 2], SAMPLE_RATE)
            for i in range(frames)
        ],
        dtype=float,
    )
    width = _VAD_AVERAGE
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    summed = np.cumsum(padded)
    summed[width:] = summed[width:] - summed[:-width]
    voiced = np.round(summed[width - 1 :] / width).astype(bool)
    voiced = binary_dilation(voiced, np.ones(_VAD_DILATION + 1))
    mask[: frames * frame] = np.repeat(voiced, frame)
    return mask


def _window_bounds(length: int) -> list[tuple[int, int]]:
    """Equal windows of about WINDOW_SECONDS over ``length`` samples of speech."""
    count = max(1, round(length / SAMPLE_RATE / WINDOW_SECONDS))
    edges = np.linspace(0, length, count + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _partials(wav: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The mel spectrograms of a window's 1.6-s partials, as ``embed_utterance`` cuts them."""
    rz_audio = _resemblyzer_audio()
    model = encoder()
    wav_slices, mel_slices = model.compute_partial_slices(
        len(wav), PARTIALS_PER_SECOND, MIN_COVERAGE
    )
    longest = wav_slices[-1].stop
    if longest >= len(wav):
        wav = np.pad(wav, (0, longest - len(wav)), "constant")
    mel = rz_audio.wav_to_mel_spectrogram(wav)
    return np.asarray(np.stack([mel[s] for s in mel_slices]), dtype=np.float32)


def _forward(mels: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import torch

    model = encoder()
    out = []
    with torch.inference_mode():
        for start in range(0, len(mels), BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(mels[start : start + BATCH]))
            out.append(model(batch).numpy())
    return np.asarray(np.concatenate(out), dtype=np.float32)


def embed(samples: npt.NDArray[np.floating], rate: int) -> Embedding:
    """The voice vectors of mono audio at ``rate`` Hz (module docstring). Raises
    ``ContentError`` (``no_speech``, ``too_short``) for audio without enough speech and
    ``ValueError`` for samples that are not one-dimensional or a rate that is not positive."""
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate}")
    if np.ndim(samples) != 1:
        raise ValueError(f"samples must be mono (one dimension), not shape {np.shape(samples)}")
    seconds = len(samples) / rate
    wav = _resampled(samples, rate)
    rms = math.sqrt(float(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms < SILENCE_RMS:
        raise ContentError("no_speech", "The audio is silent: there is no voice in it.")
    normalised = _resemblyzer_audio().normalize_volume(wav, _TARGET_DBFS, increase_only=True)
    wav = np.asarray(normalised, dtype=np.float32)
    mask = speech_mask(wav)
    kept = np.flatnonzero(mask)
    speech = wav[kept]
    speech_seconds = len(speech) / SAMPLE_RATE
    if not len(speech):
        raise ContentError("no_speech", "No speech was found in the audio.")
    if speech_seconds < MIN_SPEECH_SECONDS:
        raise ContentError(
            "too_short",
            f"The audio has {speech_seconds:.1f} s of speech; a voice needs at least "
            f"{MIN_SPEECH_SECONDS:g} s.",
        )
    bounds = _window_bounds(len(speech))
    mels = [_partials(speech[a:b]) for a, b in bounds]
    partial_vectors = _forward(np.concatenate(mels))
    rows, at = [], 0
    for m in mels:
        mean = partial_vectors[at : at + len(m)].mean(axis=0)
        rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        at += len(m)
    windows = tuple(
        (round(float(kept[a]) / SAMPLE_RATE, 3), round(float(kept[b - 1] + 1) / SAMPLE_RATE, 3))
        for a, b in bounds
    )
    return Embedding(
        vectors=np.asarray(np.stack(rows), dtype=np.float32),
        windows=windows,
        speech_seconds=round(speech_seconds, 3),
        seconds=round(seconds, 3),
    )


def windows(samples: npt.NDArray[np.floating], rate: int) -> Windows:
    """The voice windows a query item carries (:data:`Windows`), from mono audio at ``rate``
    Hz; none when it has too little speech (an instrumental is no error: it just carries no
    voice). The service computes them from uploaded audio and the licensee's client from the
    same audio where it lies, with this one function, so both send the same vectors."""
    try:
        embedding = embed(samples, rate)
    except ContentError:
        return ()
    return tuple(
        (tuple(round(float(x), DIGITS) for x in vector), span)
        for vector, span in zip(embedding.vectors, embedding.windows, strict=True)
    )


def score(query: Vectors, reference: Vectors) -> tuple[float, int]:
    """How closely a query's voice matches an artist's reference vectors: the best cosine of
    any query window with any reference vector, and which query window (rows are unit
    length)."""
    cosines = np.asarray(query, np.float64) @ np.asarray(reference, np.float64).T
    best = cosines.max(axis=1)
    window = int(np.argmax(best))
    return float(best[window]), window
