"""The voice space, pure: Resemblyzer's vectors of real (synthetic) speech, the same voice above
the threshold and other voices below it, and clear reasons for audio without enough voice."""

from __future__ import annotations

import functools
import io
import wave

import numpy as np
import pytest

from governance.content import audio, voice
from tests.voice_samples import sample


def decoded(name: str) -> audio.Audio:
    return audio.decode(sample(name), rate=voice.SAMPLE_RATE)


@functools.cache
def embedded(name: str) -> voice.Embedding:
    a = decoded(name)
    return voice.embed(a.samples, a.rate)


def test_decoding_at_16_khz_for_the_voice_space() -> None:
    a = decoded("slt_query")
    assert a.rate == voice.SAMPLE_RATE == 16_000
    assert a.seconds == pytest.approx(len(a.samples) / 16_000)
    assert 4.0 < a.seconds < 5.0
    default = audio.decode(sample("slt_query"))
    assert default.rate == audio.SAMPLE_RATE
    assert default.seconds == pytest.approx(a.seconds, abs=0.01)


def test_a_recording_is_unit_vectors_with_the_span_of_speech_they_come_from() -> None:
    e = embedded("slt_query")
    assert e.vectors.shape == (1, voice.DIMENSION)
    assert e.vectors.dtype == np.float32
    assert np.linalg.norm(e.vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    [(start, end)] = e.windows
    assert 0 <= start < end <= e.seconds
    assert voice.MIN_SPEECH_SECONDS <= e.speech_seconds <= e.seconds


def test_the_same_voice_reaches_the_threshold_and_other_voices_do_not() -> None:
    refs = np.concatenate([embedded("slt_ref1").vectors, embedded("slt_ref2").vectors])
    same, window = voice.score(embedded("slt_query").vectors, refs)
    assert same >= voice.THRESHOLD
    assert window == 0
    for stranger in ("rms_query", "awb_query"):
        other, _ = voice.score(embedded(stranger).vectors, refs)
        assert other < voice.THRESHOLD, stranger
    rms, _ = voice.score(embedded("rms_query").vectors, embedded("rms_ref1").vectors)
    assert rms >= voice.THRESHOLD


def test_long_speech_is_cut_into_windows_in_order() -> None:
    parts = [decoded(n).samples for n in ("slt_ref1", "slt_ref2", "slt_query")]
    gap = np.zeros(voice.SAMPLE_RATE, dtype=np.float32)  # a second of silence between them
    samples = np.concatenate([parts[0], gap, parts[1], gap, parts[2]])
    e = voice.embed(samples, voice.SAMPLE_RATE)
    assert len(e.vectors) == len(e.windows) == round(e.speech_seconds / voice.WINDOW_SECONDS) > 1
    starts = [s for s, _ in e.windows]
    assert starts == sorted(starts)
    assert all(s < t <= e.seconds for s, t in e.windows)
    # Every window is the same voice as the references it came from.
    query, _ = voice.score(e.vectors, embedded("slt_query").vectors)
    assert query >= voice.THRESHOLD


def test_another_sample_rate_is_resampled() -> None:
    a = audio.decode(sample("slt_query"))  # 11,025 Hz
    e = voice.embed(a.samples, a.rate)
    same, _ = voice.score(e.vectors, embedded("slt_ref1").vectors)
    assert same >= voice.THRESHOLD


def test_silence_has_no_speech() -> None:
    with pytest.raises(audio.ContentError) as caught:
        voice.embed(np.zeros(5 * voice.SAMPLE_RATE, dtype=np.float32), voice.SAMPLE_RATE)
    assert caught.value.reason == "no_speech"
    assert "silent" in caught.value.detail


def test_too_little_speech_is_too_short() -> None:
    a = decoded("slt_query")
    with pytest.raises(audio.ContentError) as caught:
        voice.embed(a.samples[: voice.SAMPLE_RATE], voice.SAMPLE_RATE)  # one second
    assert caught.value.reason == "too_short"
    assert f"at least {voice.MIN_SPEECH_SECONDS:g} s" in caught.value.detail


def test_a_silent_wav_file_decodes_and_then_has_no_speech() -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(b"\x00\x00" * 16_000 * 3)
    a = audio.decode(out.getvalue(), rate=voice.SAMPLE_RATE)
    with pytest.raises(audio.ContentError) as caught:
        voice.embed(a.samples, a.rate)
    assert caught.value.reason == "no_speech"


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="mono"):
        voice.embed(np.zeros((2, 16_000), dtype=np.float32), 16_000)
    with pytest.raises(ValueError, match="positive"):
        voice.embed(np.zeros(16_000, dtype=np.float32), 0)


@pytest.mark.parametrize(("value", "threads"), [("3", 3), ("", 1), ("many", 1), ("0", 1)])
def test_torch_threads_follow_omp_num_threads(
    monkeypatch: pytest.MonkeyPatch, value: str, threads: int
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert voice.threads() == threads


def test_torch_threads_default_to_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert voice.threads() == 1
