"""The peaks' neighbourhood maximum (``landmarks._running_max``) is scipy's ``maximum_filter``
with -inf outside the spectrogram: the same numbers, so the same peaks and landmarks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import maximum_filter

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
