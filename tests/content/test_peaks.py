"""A content's peaks rebuilt from its landmark pairs (``governance.content.peaks``): the union of
the pairs' anchors and targets, all of them among the audio's own landmark peaks (a peak that
pairs with nothing is lost); their packed form reads back the same and is canonical, and bad
packed data or pairs outside the hash layout are refused with the reason."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.content import landmarks, peaks
from governance.content.audio import decode
from tests.content import synth


@functools.cache
def music() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Half a minute of the fingerprint tests' synthetic music, decoded as any upload is: its
    landmark peaks (bins, frames) and pairs (hashes, frames)."""
    samples = decode(synth.encode(synth.music(101, 30.0), "flac")).samples
    bins, frames = landmarks.peaks(landmarks.spectrogram(samples))
    hashes, times = landmarks.pairs(bins, frames)
    return bins, frames, hashes, times


def layout(f1: int, df: int, dt: int) -> int:
    return (f1 << 14) | ((df + 32) << 8) | dt


def test_the_peaks_are_the_pairs_anchors_and_targets_among_the_audios_landmark_peaks() -> None:
    bins, frames, hashes, times = music()

    got_bins, got_frames = peaks.from_pairs(hashes, times)

    # the union of every pair's anchor (t, f1) and target (t + dt, f1 + df), each once
    named = set()
    for h, t in zip(hashes.tolist(), times.tolist(), strict=True):
        f1, df, dt = h >> 14, ((h >> 8) & 63) - 32, h & 255
        named |= {(t, f1), (t + dt, f1 + df)}
    got = list(zip(got_frames.tolist(), got_bins.tolist(), strict=True))
    assert got == sorted(named)
    assert [str(a.dtype) for a in (got_bins, got_frames)] == ["int32", "int32"]
    # all of them the audio's own peaks; those lost pair with nothing (a few)
    own = set(zip(frames.tolist(), bins.tolist(), strict=True))
    assert set(got) <= own
    assert 0.9 * len(own) < len(got) <= len(own)


def test_packed_peaks_read_back_the_same_and_the_form_is_canonical() -> None:
    _, _, hashes, times = music()
    bins, frames = peaks.from_pairs(hashes, times)

    data = peaks.pack(bins, frames)

    assert data[:4] == b"CSPK"
    assert len(data) == 12 + 4 * len(bins)
    back = peaks.unpack(data)
    assert [a.tolist() for a in back] == [bins.tolist(), frames.tolist()]
    assert [str(a.dtype) for a in back] == ["int32", "int32"]
    # the same peaks given in any order, or more than once, are the same pairs' peaks and bytes
    order = np.random.default_rng(0).permutation(len(hashes))
    doubled = np.concatenate((order, order[:100]))
    assert peaks.pack(*peaks.from_pairs(hashes[doubled], times[doubled])) == data
    assert peaks.pack(*peaks.from_pairs(hashes[:0], times[:0])) == peaks.pack(
        np.zeros(0, np.int32), np.zeros(0, np.int32)
    )
    assert [a.tolist() for a in peaks.unpack(peaks.pack(bins[:0], frames[:0]))] == [[], []]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 255), st.integers(-31, 31), st.integers(1, 255),
                          st.integers(0, 5_000)), max_size=80))  # fmt: skip
def test_any_pairs_of_the_layout_round_trip(items: list[tuple[int, int, int, int]]) -> None:
    items = [i for i in items if 1 <= i[0] + i[1] <= 255]
    hashes = np.array([layout(f1, df, dt) for f1, df, dt, _ in items], np.int64)
    times = np.array([t for *_, t in items], np.int64)
    bins, frames = peaks.from_pairs(hashes, times)
    expected = sorted({(t, f1) for f1, _, _, t in items} | {
        (t + dt, f1 + df) for f1, df, dt, t in items})  # fmt: skip
    assert list(zip(frames.tolist(), bins.tolist(), strict=True)) == expected
    back = peaks.unpack(peaks.pack(bins, frames))
    assert [a.tolist() for a in back] == [bins.tolist(), frames.tolist()]


def test_a_window_is_the_peaks_of_its_frames() -> None:
    _, _, hashes, times = music()
    bins, frames = peaks.from_pairs(hashes, times)
    for start, stop in [(0, 43), (100, 445), (frames[-1], frames[-1] + 1), (-5, 0), (10**6, 10**7)]:
        got_bins, got_frames = peaks.window(bins, frames, int(start), int(stop))
        inside = (frames >= start) & (frames < stop)
        assert got_bins.tolist() == bins[inside].tolist()
        assert got_frames.tolist() == frames[inside].tolist()


def _record(frame: int, bin_: int) -> bytes:
    return ((frame << 8) | bin_).to_bytes(4, "little")


def _packed(*records: bytes, magic: bytes = b"CSPK", fmt: int = 1, zero: bytes = bytes(3),
            count: int | None = None) -> bytes:  # fmt: skip
    n = len(records) if count is None else count
    return magic + bytes([fmt]) + zero + n.to_bytes(4, "little") + b"".join(records)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("CSPK", "are bytes"),
        (b"CSPK\x01", "at least 12 bytes"),
        (_packed(_record(1, 5), magic=b"CSFP"), "bad magic"),
        (_packed(_record(1, 5), fmt=2), "format 2 is not 1"),
        (_packed(_record(1, 5), zero=b"\x00\x01\x00"), "reserved bytes are not zero"),
        (_packed(_record(1, 5), count=2), "2 peaks need 20 bytes"),
        (_packed(_record(1, 5), _record(2, 7))[:-1], "2 peaks need 20 bytes"),
        (_packed(_record(1, 5)) + b"\x00", "1 peaks need 16 bytes"),
        (_packed(_record(1, 5), _record(2, 0)), "bin is 0"),
        (_packed(_record(2, 5), _record(1, 7)), "not strictly increasing"),
        (_packed(_record(1, 5), _record(1, 5)), "not strictly increasing"),
        (_packed(_record(1, 7), _record(1, 5)), "not strictly increasing"),
    ],
)
def test_bad_packed_peaks_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        peaks.unpack(data)


@pytest.mark.parametrize(
    ("bins", "frames", "message"),
    [
        ([0], [3], "bin is outside 1-255"),
        ([256], [3], "bin is outside 1-255"),
        ([4], [-1], "frame is outside"),
        ([4], [peaks.MAX_FRAME + 1], "frame is outside"),
        ([4, 5], [3], "2 bins but 1 frames"),
        ([5, 4], [3, 3], "not strictly increasing"),
        ([4, 4], [3, 3], "not strictly increasing"),
        ([4, 4], [3, 2], "not strictly increasing"),
        ([4.0], [3], "1-D array of integers"),
    ],
)
def test_peaks_that_cannot_be_packed_are_refused(
    bins: list[int], frames: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        peaks.pack(np.array(bins), np.array(frames))


@pytest.mark.parametrize(
    ("hashes", "frames", "message"),
    [
        ([layout(5, 1, 3)], [1, 2], "1 hashes but 2 frames"),
        ([-1], [0], "hash is outside"),
        ([1 << 22], [0], "hash is outside"),
        ([layout(0, 1, 3)], [0], "anchor bin is 0"),
        ([layout(5, -6, 3)], [0], "target bin is outside 1-255"),
        ([layout(250, 6, 3)], [0], "target bin is outside 1-255"),
        ([layout(5, 1, 0)], [0], "dt is 0"),
        ([layout(5, 1, 3)], [-1], "frame is outside"),
        ([layout(5, 1, 3)], [peaks.MAX_FRAME - 2], "frame is outside"),
        ([[layout(5, 1, 3)]], [[0]], "1-D array of integers"),
    ],
)
def test_pairs_outside_the_layout_are_refused(
    hashes: list[int], frames: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        peaks.from_pairs(np.array(hashes), np.array(frames))
