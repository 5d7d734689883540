"""The landmark fingerprint recognises a registered recording in a changed copy, at the right
offset, and an unrelated signal stays below the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from governance.content import fingerprint as fpmod
from governance.content.audio import Audio, ContentError, decode
from governance.content.fingerprint import (
    FRAME_SECONDS,
    FRAMES_PER_BLOCK,
    HASH_BITS,
    MIN_SECONDS,
    Candidate,
    Fingerprint,
    MemoryIndex,
    extract,
    score_votes,
    threshold,
)
from tests.content import synth

SECONDS = 24.0
TRACKS = {f"track-{i}": synth.music(100 + i, SECONDS) for i in range(4)}


def _excerpt(key: str, start: float, seconds: float) -> np.ndarray:
    a = int(start * synth.RATE)
    return TRACKS[key][a : a + int(seconds * synth.RATE)]


@pytest.fixture(scope="module")
def index() -> MemoryIndex:
    idx = MemoryIndex()
    for key, x in TRACKS.items():
        idx.add(key, extract(decode(synth.encode(x, "flac"))))
    return idx


def _best(index: MemoryIndex, data: bytes) -> tuple[Candidate, float]:
    fp = fpmod.fingerprint(data)
    found = score_votes(index.votes(fp))
    assert found, "no candidate at all"
    return found[0], fp.seconds


@pytest.mark.parametrize(
    ("name", "key", "start", "seconds", "change", "kind"),
    [
        ("mp3 re-encode of 15 s", "track-0", 4.0, 15.0, None, "mp3"),
        ("8-s crop", "track-1", 13.3, 8.0, None, "wav"),
        ("white noise at 5 dB SNR", "track-2", 2.7, 15.0, "noise", "m4a"),
        ("-12 dB volume", "track-3", 9.1, 12.0, "quiet", "ogg"),
    ],
)
def test_a_changed_copy_matches_its_own_reference_at_its_offset(
    index: MemoryIndex,
    name: str,
    key: str,
    start: float,
    seconds: float,
    change: str | None,
    kind: str,
) -> None:
    x = _excerpt(key, start, seconds)
    if change == "noise":
        x = synth.add_white_noise(x, 5.0, seed=1)
    elif change == "quiet":
        x = synth.gain(x, -12.0)

    best, query_seconds = _best(index, synth.encode(x, kind))

    assert best.key == key
    assert best.score >= threshold(query_seconds)
    # Lossy encoders add a few ms of delay; a frame is 23 ms.
    assert best.offset_seconds == pytest.approx(start, abs=3 * FRAME_SECONDS)
    assert best.query_start_seconds < 2.0
    assert best.query_end_seconds > query_seconds - 2.0


@pytest.mark.parametrize("source", ["another track", "white noise"])
def test_an_unrelated_signal_stays_below_the_threshold(index: MemoryIndex, source: str) -> None:
    x = synth.music(999, 15.0) if source == "another track" else synth.noise(5, 15.0)

    fp = fpmod.fingerprint(synth.encode(x, "mp3"))
    found = score_votes(index.votes(fp))

    assert all(c.score < threshold(fp.seconds) for c in found)


def test_the_fingerprint_is_deterministic_and_within_its_bits() -> None:
    audio = decode(synth.encode(TRACKS["track-0"], "wav"))
    a, b = extract(audio), extract(audio)

    assert np.array_equal(a.hashes, b.hashes)
    assert np.array_equal(a.times, b.times)
    assert a.hashes.dtype == np.int32
    assert a.times.dtype == np.int32
    assert int(a.hashes.min()) >= 0
    assert int(a.hashes.max()) < 1 << HASH_BITS
    assert int(a.times.max()) <= SECONDS / FRAME_SECONDS
    # About 50 peaks a second, each paired with up to 6 others.
    assert 150 * SECONDS < len(a) < 300 * SECONDS


def test_the_packed_form_round_trips() -> None:
    fp = extract(decode(synth.encode(TRACKS["track-1"], "wav")))

    back = Fingerprint.from_bytes(fp.to_bytes())

    assert np.array_equal(back.hashes, fp.hashes)
    assert np.array_equal(back.times, fp.times)
    assert back.seconds == fp.seconds
    assert back.to_bytes() == fp.to_bytes()


def _packed(hashes: list[int], times: list[int], seconds: float = 10.0) -> bytes:
    return Fingerprint(
        hashes=np.array(hashes, np.int64), times=np.array(times, np.int64), seconds=seconds
    ).to_bytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "at least"),
        (b"XXXX" + _packed([1], [0])[4:], "bad magic"),
        (_packed([1], [0])[:4] + b"\x04" + _packed([1], [0])[5:], "format"),
        (_packed([1], [0])[:5] + b"\x09" + _packed([1], [0])[6:], "version"),
        (_packed([1, 2], [0, 1])[:-1], "bytes"),
        (_packed([1, 2], [0, 1]) + b"\x00", "bytes"),
        (_packed([1 << HASH_BITS], [0]), "bits"),
        (_packed([1], [10_000]), "after the end"),
        (_packed([5, 3], [0, 0]), "increasing"),
        (_packed([5, 5], [2, 2]), "increasing"),
        (_packed([1], [0], seconds=float("nan")), "duration"),
        (_packed([1], [0], seconds=-1.0), "duration"),
    ],
)
def test_bad_packed_bytes_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fingerprint.from_bytes(data)


def test_audio_shorter_than_the_minimum_is_too_short() -> None:
    audio = Audio.from_samples(np.full(int((MIN_SECONDS - 0.5) * 11_025), 0.1, np.float32))

    with pytest.raises(ContentError) as caught:
        extract(audio)

    assert caught.value.reason == "too_short"


def test_a_too_short_file_is_too_short() -> None:
    with pytest.raises(ContentError) as caught:
        fpmod.fingerprint(synth.encode(_excerpt("track-0", 0.0, 3.0), "mp3"))

    assert caught.value.reason == "too_short"


def test_silence_has_nothing_to_fingerprint() -> None:
    with pytest.raises(ContentError) as caught:
        extract(Audio.from_samples(np.zeros(11_025 * 10, np.float32)))

    assert caught.value.reason == "empty"


def test_the_threshold_grows_with_the_query_length() -> None:
    assert [threshold(s) for s in (8, 15, 30, 90)] == [7, 8, 10, 14]
    assert all(threshold(s) <= threshold(s + 1) for s in range(600))
    with pytest.raises(ValueError, match="non-negative"):
        threshold(-1.0)


def test_coverage_counts_distinct_blocks_with_neighbouring_offsets_merged() -> None:
    votes = [
        ("a", 100, 0, 5),
        ("a", 101, 1, 1),  # one frame off: merged into 100
        ("a", 99, 2, 1),
        ("a", 100, 2, 3),  # block 2 again: counted once
        ("a", 103, 3, 9),  # three frames off: another offset
        ("b", 7, 0, 20),  # many hits in one block: coverage 1
    ]

    found = score_votes(votes)

    assert [(c.key, c.score, c.hits) for c in found] == [("a", 3, 10), ("b", 1, 20)]
    assert found[0].offset_seconds == round(100 * FRAME_SECONDS, 3)
    assert found[0].query_start_seconds == 0.0
    block = FRAMES_PER_BLOCK * FRAME_SECONDS
    assert found[0].query_end_seconds == pytest.approx(3 * block, abs=1e-3)
    assert score_votes(votes, limit=1) == found[:1]
    assert score_votes([]) == []


def test_memory_votes_are_the_join_grouped_by_key_offset_and_block() -> None:
    ref = Fingerprint(hashes=np.array([7, 9, 7]), times=np.array([50, 60, 90]), seconds=3.0)
    query = Fingerprint(hashes=np.array([7, 9, 4]), times=np.array([0, 10, 45]), seconds=2.0)
    idx = MemoryIndex()
    idx.add("r", ref)

    rows = idx.votes(query)

    # 7@0 joins 7@50 and 7@90; 9@10 joins 9@60 (offset 50 again, same block 0).
    assert sorted(rows) == [("r", 50, 0, 2), ("r", 90, 0, 1)]
    assert idx.postings(query) == 3
    with pytest.raises(ValueError, match="already"):
        idx.add("r", ref)
