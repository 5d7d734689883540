"""The landmarks' own shortcuts compute scipy's numbers: the spectrogram is
``scipy.signal.stft``'s, and the peaks' neighbourhood maximum (``landmarks._running_max``) is
``maximum_filter``'s with -inf outside the spectrogram; so the same peaks and landmarks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from scipy.ndimage import maximum_filter, uniform_filter1d

from governance.content import landmarks
from tests.content import synth


def _local(spec: np.ndarray) -> np.ndarray:
    rows = landmarks._running_max(spec, landmarks.PEAK_BINS, axis=0)
    return landmarks._running_max(rows, landmarks.PEAK_FRAMES, axis=1)


@pytest.mark.parametrize(
    "shape", [(255, 1), (255, 4), (255, 9), (255, 10), (1, 3), (14, 8), (15, 9), (16, 200)]
)
def test_the_running_maximum_is_scipys_maximum_filter(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    spec = np.round(rng.standard_normal(shape), 1).astype(np.float32)  # with ties

    expected = maximum_filter(spec, size=(15, 9), mode="constant", cval=-np.inf)

    local = _local(spec)
    assert (local.dtype, local.shape) == (spec.dtype, spec.shape)
    assert np.array_equal(local, expected)


def test_on_music_the_maximum_and_so_the_peaks_are_scipys() -> None:
    spec = landmarks.spectrogram(synth.music(5, 20.0))

    expected = maximum_filter(spec, size=(15, 9), mode="constant", cval=-np.inf)

    assert np.array_equal(_local(spec), expected)


def _scipy_spectrogram(samples: np.ndarray) -> np.ndarray:
    """The spectrogram as it was computed before this change: scipy's STFT, then the same steps."""
    _, _, z = signal.stft(
        samples,
        landmarks.SAMPLE_RATE,
        nperseg=landmarks.N_FFT,
        noverlap=landmarks.N_FFT - landmarks.HOP,
        boundary=None,
        padded=False,
    )
    s = np.log(np.abs(z[1 : landmarks.N_FFT // 2]) + 1e-6).astype(np.float32)
    s -= uniform_filter1d(s, size=landmarks.WHITEN_FRAMES, axis=1, mode="nearest")
    return s


@pytest.mark.parametrize("length", [512, 513, 767, 768, 769, 1024, 11_025, 44_100 + 77])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_spectrogram_is_scipys_stft(length: int, dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(length)
    samples = (0.3 * rng.standard_normal(length)).astype(dtype)

    spec = landmarks.spectrogram(samples)

    expected = _scipy_spectrogram(samples)
    assert (spec.dtype, spec.shape) == (np.float32, expected.shape)
    assert np.array_equal(spec, expected)


def test_on_music_the_spectrogram_and_so_the_landmarks_are_scipys() -> None:
    samples = synth.music(7, 30.0).astype(np.float32)

    spec = landmarks.spectrogram(samples)

    expected = _scipy_spectrogram(samples)
    assert np.array_equal(spec, expected)
    for got, want in zip(
        landmarks.pairs(*landmarks.peaks(spec)),
        landmarks.pairs(*landmarks.peaks(expected)),
        strict=True,
    ):
        assert np.array_equal(got, want)


def test_a_clip_shorter_than_a_frame_has_no_frames() -> None:
    spec = landmarks.spectrogram(np.ones(landmarks.N_FFT - 1, dtype=np.float32))

    assert (spec.dtype, spec.shape) == (np.float32, (landmarks.N_FFT // 2 - 1, 0))
