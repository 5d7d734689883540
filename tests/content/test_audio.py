"""Decoding untrusted audio: every format we read round-trips, and bad content is a ContentError
with the right reason (never another exception)."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest
import soxr

from governance.content import audio, mpg123
from governance.content.audio import (
    SAMPLE_RATE,
    Audio,
    ContentError,
    container_format,
    decode,
)
from tests.content import synth

CLIP = synth.music(7, 3.0)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {kind: synth.encode(CLIP, kind) for kind in synth.ENCODINGS}


@pytest.mark.parametrize("kind", list(synth.ENCODINGS))
def test_each_format_decodes_to_mono_at_11025_hz_with_its_duration(
    files: dict[str, bytes], kind: str
) -> None:
    result = decode(files[kind])

    assert result.samples.dtype == np.float32
    assert result.samples.ndim == 1
    assert result.seconds == len(result.samples) / SAMPLE_RATE
    # Lossy encoders pad a frame or two at the ends.
    assert result.seconds == pytest.approx(3.0, abs=0.06)
    assert float(np.abs(result.samples).max()) <= 1.0
    assert synth.rms(result.samples) > 0.05


def test_the_codec_is_named_as_the_format_names_it(files: dict[str, bytes]) -> None:
    codecs = {kind: decode(data).codec for kind, data in files.items()}

    assert codecs == {
        "wav": "pcm_s16le",
        "flac": "flac",
        "mp3": "mp3",
        "ogg": "vorbis",
        "opus": "opus",
        "m4a": "aac",
        "aac": "aac",
    }


def test_stereo_is_mixed_down_to_the_same_signal() -> None:
    mono = decode(synth.encode(CLIP, "flac")).samples
    stereo = decode(synth.encode(CLIP, "flac", stereo=True)).samples

    assert len(stereo) == len(mono)
    assert np.corrcoef(mono, stereo)[0, 1] > 0.999


@pytest.mark.parametrize("channels", range(1, 11))
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.int64, np.float32, np.float64])
def test_channels_are_summed_to_numpys_numbers(channels: int, dtype: type[np.generic]) -> None:
    # The interleaved formats' mix (FLAC, WAV: audio._summed) gives numpy's sum along the
    # channels to the bit, so that no stored fingerprint changes; extreme values, where the
    # order of float32 additions shows.
    rng = np.random.default_rng(channels)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        packed = rng.integers(info.min, info.max, 999 * channels, dtype=dtype, endpoint=True)
    else:
        magnitude = 10.0 ** rng.integers(-8, 8, 999 * channels)
        packed = (rng.standard_normal(999 * channels) * magnitude).astype(dtype)

    summed = audio._summed(packed, channels)

    expected = packed.reshape(-1, channels).sum(axis=1, dtype=np.float32)
    assert (summed.dtype, summed.shape) == (np.float32, (999,))
    assert np.array_equal(summed, expected)


def test_a_lossless_file_keeps_the_waveform() -> None:
    result = decode(synth.encode(CLIP, "wav"))
    x = CLIP[::2]  # 22,050 to 11,025 Hz; the resampler's filter smooths the rest

    assert np.corrcoef(result.samples[100:-100], x[100 : len(result.samples) - 100])[0, 1] > 0.9


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"Consentry test: this is a text file, not audio.\n" * 40, "unsupported"),
        (b"\x00" + np.random.default_rng(1).bytes(20_000), "unsupported"),
        (b"\xff\xfb\x90\x00" + np.random.default_rng(1).bytes(20_000), "corrupt"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", "corrupt"),
        (b"OggS" + b"\x00" * 200, "corrupt"),
    ],
    ids=[
        "zero bytes",
        "text",
        "garbage",
        "garbage after an mp3 sync",
        "wav header only",
        "ogg sync only",
    ],
)
def test_bad_bytes_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ContentError) as caught:
        decode(data)

    assert caught.value.reason == reason
    assert str(caught.value) == caught.value.detail
    assert caught.value.detail.endswith(".")


def _decode_or_reason(data: bytes) -> Audio | str:
    """The decoded audio, or the reason of the ContentError; any other exception escapes."""
    try:
        return decode(data)
    except ContentError as exc:
        return exc.reason


@pytest.mark.parametrize("kind", list(synth.ENCODINGS))
@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_a_truncated_file_gives_its_audio_or_a_content_error(
    files: dict[str, bytes], kind: str, keep: float
) -> None:
    data = files[kind][: int(len(files[kind]) * keep)]

    result = _decode_or_reason(data)

    if isinstance(result, str):
        assert result in {"corrupt", "empty", "unsupported"}
    else:
        assert 0 < result.seconds < 3.0


@pytest.mark.parametrize("kind", list(synth.ENCODINGS))
def test_damaged_bytes_inside_a_file_never_escape_as_another_error(
    files: dict[str, bytes], kind: str
) -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        data = bytearray(files[kind])
        at = rng.integers(64, len(data), size=20)
        data[at[0] : at[0] + 200] = rng.bytes(len(data[at[0] : at[0] + 200]))
        for i in at[1:]:
            data[i] ^= 0xFF
        result = _decode_or_reason(bytes(data))
        assert not isinstance(result, str) or result in {"corrupt", "empty", "unsupported"}


def _video_only_mp4() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            image = np.full((32, 32, 3), i * 40, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


def test_a_container_without_an_audio_stream_is_unsupported() -> None:
    data = _video_only_mp4()
    assert container_format(data) == "mp4"

    with pytest.raises(ContentError) as caught:
        decode(data)

    assert caught.value.reason == "unsupported"
    assert "no audio stream" in caught.value.detail


def _wav(rate: int, channels: int, samples: int) -> bytes:
    """A 16-bit PCM WAV written by hand, so its header can say anything."""
    data = np.zeros(samples * channels, dtype="<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(("rate", "channels"), [(1, 1), (2_000, 1), (768_000, 1), (8_000, 100)])
def test_an_absurd_rate_or_channel_count_is_unsupported(rate: int, channels: int) -> None:
    with pytest.raises(ContentError) as caught:
        decode(_wav(rate, channels, 4096))

    assert caught.value.reason == "unsupported"
    assert f"{rate} Hz" in caught.value.detail


def test_a_hand_written_wav_at_8_khz_decodes() -> None:
    assert decode(_wav(8_000, 2, 16_000)).seconds == pytest.approx(2.0, abs=0.01)


def test_a_file_over_the_byte_limit_is_too_large(files: dict[str, bytes]) -> None:
    with pytest.raises(ContentError) as caught:
        decode(files["mp3"], max_bytes=len(files["mp3"]) - 1)

    assert caught.value.reason == "too_large"


@pytest.mark.parametrize("kind", ["wav", "mp3", "opus"])
def test_decoding_stops_past_the_duration_limit(files: dict[str, bytes], kind: str) -> None:
    with pytest.raises(ContentError) as caught:
        decode(files[kind], max_seconds=1.0)

    assert caught.value.reason == "too_long"
    assert decode(files[kind], max_seconds=3.5).seconds > 2.9


def test_decoding_stops_when_the_cpu_budget_is_spent(files: dict[str, bytes]) -> None:
    with pytest.raises(ContentError) as caught:
        decode(files["mp3"], cpu_seconds=0.0)

    assert caught.value.reason == "timeout"


def test_digital_silence_decodes_to_zeros() -> None:
    result = decode(synth.encode(np.zeros(synth.RATE, dtype=np.float32), "flac"))

    assert result.seconds == pytest.approx(1.0, abs=0.01)
    assert not result.samples.any()


def test_audio_from_samples_clips_and_silences_nan() -> None:
    result = Audio.from_samples(np.array([2.0, -3.0, np.nan, 0.5]))

    assert result.samples.tolist() == [1.0, -1.0, 0.0, 0.5]
    assert result.seconds == 4 / SAMPLE_RATE


def test_an_unknown_reason_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown content error reason"):
        ContentError("bad", "Bad.")


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00", "mp3"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00fLaC\x00\x00\x00\x22", "flac"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"\xff\xf1\x50\x80", "aac"),
        (b"\xff\xf9\x50\x80", "aac"),
        (b"FORM\x00\x00\x00\x00AIFF", "aiff"),
        (b"\x1a\x45\xdf\xa3\x00", "matroska"),
        (b"\xff\xe0\x00", None),
        (b"\xff\xfb\xf0", None),
        (b"#EXTM3U\n#EXT-X-VERSION:3\n", None),
    ],
)
def test_containers_are_recognised_by_their_first_bytes(head: bytes, fmt: str | None) -> None:
    assert container_format(head + b"\x00" * 16) == fmt


def _encoded(x: np.ndarray, rate: int, *, fmt: str, codec: str, layout: str) -> bytes:
    """``x`` (mono float32 at ``rate``) in one file, every channel the same."""
    channels = 2 if layout == "stereo" else 1
    planes = np.ascontiguousarray(np.repeat(x[None, :], channels, axis=0))
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        for start in range(0, len(x), 4096):
            frame = av.AudioFrame.from_ndarray(planes[:, start : start + 4096], format="fltp",
                                               layout=layout)  # fmt: skip
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


@pytest.mark.parametrize("codec", ["pcm_u8", "pcm_s16le", "pcm_s32le", "pcm_f32le", "pcm_f64le"])
@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_every_sample_format_decodes_to_the_same_signal(codec: str, layout: str) -> None:
    # Whatever sample format and channels (their mean) a lossless file is read as, it comes
    # back as the 32-bit float mono file does (8-bit samples with their quantisation noise).
    def decoded(codec: str, layout: str) -> np.ndarray:
        data = _encoded(CLIP, synth.RATE, fmt="wav", codec=codec, layout=layout)
        return decode(data).samples

    reference, result = decoded("pcm_f32le", "mono"), decoded(codec, layout)

    assert len(result) == len(reference) == pytest.approx(len(CLIP) / 2, abs=2)
    assert np.corrcoef(result, reference)[0, 1] > (0.99 if codec == "pcm_u8" else 0.9999)
    assert float(np.std(result)) == pytest.approx(float(np.std(reference)), rel=0.01)


def test_a_stream_that_changes_rate_and_channels_midway_decodes_whole() -> None:
    # Two MP3 streams back to back (44.1 kHz mono, then 22.05 kHz stereo): the decoder's
    # frames change rate and layout at the seam, and both halves are kept.
    first = _encoded(synth.music(3, 4.0), synth.RATE, fmt="wav", codec="pcm_f32le",
                     layout="mono")  # fmt: skip
    a = decode(first).samples
    joined = _encoded(a, SAMPLE_RATE * 4, fmt="mp3", codec="libmp3lame", layout="mono")
    joined += _encoded(a, SAMPLE_RATE * 2, fmt="mp3", codec="libmp3lame", layout="stereo")

    result = decode(joined)

    # The first half plays a's samples 4 times faster (1 s), the second twice (2 s).
    assert result.seconds == pytest.approx(3.0, abs=0.15)


def _float_wav(samples: np.ndarray, rate: int) -> bytes:
    """A WAV of 32-bit float samples (``samples``: frames x channels)."""
    out = io.BytesIO()
    channels = samples.shape[1]
    layout = "mono" if channels == 1 else "stereo"
    with av.open(out, "w", format="wav") as container:
        stream = container.add_stream("pcm_f32le", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt",
            layout=layout,
        )  # fmt: skip
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def test_a_float_files_nan_and_infinities_become_silence_and_full_scale() -> None:
    x = np.repeat(0.25 * synth.music(3, 2.0)[:, None], 1, axis=1)
    x[100, 0], x[200, 0], x[300, 0] = np.nan, np.inf, -np.inf
    x[400, 0] = 3e38  # finite, clipped to full scale (float32 sums of it would overflow)

    samples = decode(_float_wav(x[::4], SAMPLE_RATE)).samples  # no resampling: sample for sample

    assert np.isfinite(samples).all()
    assert samples[[25, 50, 75, 100]].tolist() == [0.0, 1.0, -1.0, 1.0]
    others = np.ones(len(samples), bool)
    others[[25, 50, 75, 100]] = False
    assert np.array_equal(samples[others], x[::4, 0][others])


def test_a_stereo_float_files_nan_is_made_finite_before_resampling() -> None:
    x = 0.25 * np.stack([synth.music(3, 2.0), synth.music(4, 2.0)], axis=1)
    clean = decode(_float_wav(x, 44_100)).samples
    x[1000, 1] = np.nan

    samples = decode(_float_wav(x, 44_100)).samples

    assert np.isfinite(samples).all()
    assert len(samples) == len(clean)
    # One sample of one channel silenced: the rest of the audio is the same.
    assert np.abs(samples - clean).max() < 0.2
    assert np.array_equal(samples[1000:], clean[1000:])


def _mp3(rate: int, layout: str) -> bytes:
    """6 s of music as an MP3 at ``rate``."""
    x = soxr.resample(synth.music(5, 6.0), synth.RATE, rate).astype(np.float32)
    return _encoded(x, rate, fmt="mp3", codec="libmp3lame", layout=layout)


def _by_ffmpeg(data: bytes, monkeypatch: pytest.MonkeyPatch) -> Audio:
    """``data`` decoded by FFmpeg's path, as on a machine without libmpg123."""
    with monkeypatch.context() as patch:
        patch.setattr(mpg123, "available", lambda: False)
        return decode(data)


def test_libmpg123_is_installed_here() -> None:
    # make run and make test install it (Debian's libmpg123-0): without it every MP3 takes
    # FFmpeg's slower path, and the MP3 tests below would compare FFmpeg with itself.
    assert mpg123.available(), "libmpg123 does not load: apt-get install libmpg123-0"


@pytest.mark.parametrize(
    ("rate", "layout"), [(44_100, "stereo"), (44_100, "mono"), (48_000, "stereo"),
                         (32_000, "mono"), (22_050, "stereo"), (16_000, "mono")],
)  # fmt: skip
def test_an_mp3_decodes_by_libmpg123_to_ffmpegs_signal(
    rate: int, layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _mp3(rate, layout)
    spans: list[int] = []
    real = mpg123.decode

    def spy(*args: object, **kwargs: object) -> int:
        spans.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mpg123, "decode", spy)
    ours = decode(data)
    theirs = _by_ffmpeg(data, monkeypatch)

    assert spans == [1]  # this path decoded it (and FFmpeg's did not run again)
    assert ours.codec == theirs.codec == "mp3"
    # The same samples, to float rounding: both decoders are exact, and libsoxr resamples both.
    assert len(ours.samples) == len(theirs.samples)
    assert float(np.abs(ours.samples - theirs.samples).max()) < 1e-4


def test_an_mp3_damaged_midway_is_decoded_by_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    # libmpg123 is told not to resync: the garbage stops it, and FFmpeg, which skips the
    # damaged packets and counts them, decodes the file instead: the same audio either way.
    data = bytearray(_mp3(44_100, "stereo"))
    middle = len(data) // 2
    data[middle : middle + 600] = np.random.default_rng(9).bytes(600)
    with pytest.raises(mpg123.Unclean):
        mpg123.decode(bytes(data), chunk=4096, each=lambda x, rate: None)

    result = decode(bytes(data))

    assert np.array_equal(result.samples, _by_ffmpeg(bytes(data), monkeypatch).samples)
    assert result.seconds == pytest.approx(6.0, abs=0.2)


def test_mp3_decoding_bounds_hold_on_libmpg123s_path(files: dict[str, bytes]) -> None:
    # The limits, each checked as every second of samples comes out of the decoder.
    for kwargs, reason in (({"max_seconds": 1.0}, "too_long"), ({"cpu_seconds": 0.0}, "timeout")):
        with pytest.raises(ContentError) as caught:
            decode(files["mp3"], **kwargs)  # type: ignore[arg-type]
        assert caught.value.reason == reason


def test_mp3s_decoded_in_threads_at_once_are_each_decoded_whole() -> None:
    # One libmpg123 handle a call, the GIL released inside it: threads decode side by side.
    from concurrent.futures import ThreadPoolExecutor

    files = [_mp3(44_100, "stereo"), _mp3(48_000, "mono"), _mp3(22_050, "stereo")] * 3
    alone = [decode(data).samples for data in files]

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda data: decode(data).samples, files))

    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))
