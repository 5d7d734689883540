"""Decoding uploaded audio to the one form every space reads: mono float32 at 11,025 Hz.

Input is untrusted bytes. :func:`decode` accepts these containers, recognised by their first
bytes before FFmpeg sees them (so no other demuxer, and none that opens further files or URLs,
such as an HLS playlist, is ever reached)::

    WAV        "RIFF" .... "WAVE"  or "RF64"     PCM (integer, float, A-law, mu-law)
    AIFF       "FORM" .... "AIFF" / "AIFC"        PCM
    FLAC       "fLaC"                             FLAC
    MP3        "ID3" tag or an MPEG audio sync    MP3 (MPEG-1/2 layer III, and I/II)
    AAC        an ADTS sync word                  AAC
    M4A / MP4  "....ftyp"                         AAC, ALAC (audio stream only)
    OGG        "OggS"                             Vorbis, Opus, FLAC
    WebM/MKA   EBML header                        Vorbis, Opus

Decoding is bounded: at most ``max_bytes`` of input, at most ``max_seconds`` of decoded audio
(decoding stops as soon as it passes the limit), and at most ``cpu_seconds`` of this thread's
CPU time, checked between packets. Every failure is a :class:`ContentError` naming one
``reason`` and carrying a sentence for a person; no other exception leaves :func:`decode`.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass
from typing import Final

import av
import numpy as np
import soxr

from governance.content import mpg123

SAMPLE_RATE: Final = 11_025
MAX_BYTES: Final = 64 * 1024 * 1024
MAX_SECONDS: Final = 20.0 * 60.0
# Decoding and resampling run at about 1,500 times real time on one core here, so 20 minutes
# of audio take about a second; thirty leave room for a loaded machine and exotic codecs.
CPU_SECONDS: Final = 30.0

REASONS: Final = frozenset(
    {"empty", "too_large", "unsupported", "corrupt", "too_short", "too_long", "timeout"}
    | {"no_speech"}  # the voice space: audio without a voice in it (governance.content.voice)
)

# Decoders allowed once a container is open, by FFmpeg's codec name (PCM variants by prefix).
_CODECS: Final = frozenset(
    {"flac", "mp3", "mp3float", "mp2", "mp2float", "mp1", "mp1float", "aac", "aac_fixed"}
    | {"vorbis", "libvorbis", "opus", "libopus", "alac"}
)
# Decoders report these names; Audio.codec carries the format's usual name instead.
_CODEC_NAMES: Final = {
    "mp3float": "mp3",
    "mp2float": "mp2",
    "mp1float": "mp1",
    "aac_fixed": "aac",
    "libvorbis": "vorbis",
    "libopus": "opus",
}
# Sample rates and channel counts of real audio; anything else is refused before decoding (a
# 1-Hz WAV would otherwise turn each packet into hours of audio at 11,025 Hz).
_MIN_RATE: Final = 4_000
_MAX_RATE: Final = 384_000
_MAX_CHANNELS: Final = 64
# A file whose packets mostly fail to decode is corrupt, not merely scratched.
_MAX_BAD_PACKET_SHARE: Final = 0.25
_MIN_BAD_PACKETS: Final = 8
# Samples libmpg123 writes a call (1 s at 44.1 kHz): the limits are checked between calls.
_MPEG_CHUNK: Final = 44_100


class ContentError(ValueError):
    """Content that cannot be used: ``reason`` is a stable code, ``detail`` a sentence."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown content error reason {reason!r}")
        super().__init__(detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded audio: mono float32 samples in [-1, 1] at ``rate`` (:data:`SAMPLE_RATE` unless
    asked otherwise)."""

    samples: np.ndarray
    seconds: float
    codec: str
    rate: int = SAMPLE_RATE

    @classmethod
    def from_samples(
        cls, samples: np.ndarray, *, codec: str = "pcm", rate: int = SAMPLE_RATE
    ) -> Audio:
        """Wrap samples already at ``rate`` (clipped to [-1, 1], NaN as silence)."""
        x = np.nan_to_num(np.asarray(samples, dtype=np.float32).reshape(-1), nan=0.0)
        x = np.clip(x, -1.0, 1.0)
        return cls(samples=x, seconds=len(x) / rate, codec=codec, rate=rate)


def container_format(data: bytes) -> str | None:
    """FFmpeg's demuxer name for the container these bytes start with, or ``None``."""
    head = data[:16]
    if head[:3] == b"ID3" and len(data) >= 10:
        # ID3v2 tag: a 28-bit "syncsafe" size (7 bits a byte), 10 more bytes with a footer.
        size = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14)
        size += (data[8] & 0x7F) << 7 | (data[9] & 0x7F)
        size += 10 if data[5] & 0x10 else 0
        after = container_format(data[size:]) if len(data) > size + 4 else None
        return after if after in ("flac", "aac") else "mp3"
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if len(head) >= 3 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer = (head[1] >> 1) & 0x3
        # Layer bits 00 mark ADTS (AAC); 01-11 are MPEG audio layers III, II and I, whose
        # header must not use the reserved version (01), bit rate (1111) or rate (11) codes.
        if layer == 0:
            return "aac" if head[1] & 0xF6 == 0xF0 else None
        reserved = (head[1] >> 3) & 0x3 == 1 or head[2] >> 4 == 0xF or (head[2] >> 2) & 0x3 == 3
        return None if reserved else "mp3"
    return None


def decode(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_seconds: float = MAX_SECONDS,
    cpu_seconds: float = CPU_SECONDS,
    rate: int = SAMPLE_RATE,
) -> Audio:
    """Decode ``data`` to mono float32 at ``rate`` (:data:`SAMPLE_RATE`, the rate every space
    but ``voice`` reads; the voice space reads 16 kHz); raise :class:`ContentError`."""
    if not data:
        raise ContentError("empty", "The file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ContentError(
            "too_large", f"The file is {len(data):,} bytes; the limit is {max_bytes:,} bytes."
        )
    fmt = container_format(data)
    if fmt is None:
        raise ContentError(
            "unsupported",
            "The file is not audio in a format we read "
            "(WAV, AIFF, FLAC, MP3, AAC, M4A, OGG Vorbis or Opus, WebM).",
        )
    started = time.thread_time()
    try:
        return _decode(
            data, fmt, max_seconds=max_seconds, cpu_seconds=cpu_seconds, at=started, rate=rate
        )
    except ContentError:
        raise
    except MemoryError:
        raise ContentError(
            "too_large", "Decoding the file needs more memory than allowed."
        ) from None
    except Exception as exc:
        # FFmpeg and PyAV report damaged input with many exception types (FFmpegError and its
        # subclasses, ValueError from the resampler on a stream that changes shape, ...): they
        # all mean the same thing here, and the contract is that only ContentError leaves.
        raise ContentError(
            "corrupt", f"The {_label(fmt)} file is damaged and cannot be decoded ({_why(exc)})."
        ) from exc


def _decode(
    data: bytes, fmt: str, *, max_seconds: float, cpu_seconds: float, at: float, rate: int
) -> Audio:
    if fmt == "mp3" and mpg123.available():
        try:
            return _decode_mpeg(data, max_seconds=max_seconds, cpu_seconds=cpu_seconds, at=at,
                                rate=rate)  # fmt: skip
        except mpg123.Unclean:
            pass  # FFmpeg decodes it, skipping damaged packets and counting them
    try:
        container = av.open(io.BytesIO(data), mode="r", format=fmt, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise ContentError(
            "corrupt", f"The file looks like {_label(fmt)} but cannot be opened ({_why(exc)})."
        ) from exc
    with container:
        if not container.streams.audio:
            raise ContentError("unsupported", f"The {_label(fmt)} file has no audio stream.")
        stream = container.streams.audio[0]
        decoder = stream.codec_context.name
        if not (decoder.startswith("pcm_") or decoder in _CODECS):
            raise ContentError(
                "unsupported", f"The audio is encoded as {decoder}, which we do not decode."
            )
        source, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        if not _MIN_RATE <= source <= _MAX_RATE or not 1 <= channels <= _MAX_CHANNELS:
            raise ContentError(
                "unsupported",
                f"The audio has {channels} channels at {source} Hz; we read 1 to "
                f"{_MAX_CHANNELS} channels at {_MIN_RATE:,} to {_MAX_RATE:,} Hz.",
            )
        declared = (
            float(stream.duration * stream.time_base)
            if stream.duration is not None and stream.time_base is not None
            else None
        )
        if declared is not None and declared > max_seconds + 1.0:
            raise ContentError("too_long", _too_long(max_seconds))
        limit = math.ceil(max_seconds * rate)
        mono = _Mono(rate)
        packets = bad = 0
        for packet in container.demux(stream):
            # Every 16 packets (reading the clock costs more than a packet's bookkeeping).
            if packets % 16 == 0 and time.thread_time() - at > cpu_seconds:
                raise ContentError("timeout", _timeout(cpu_seconds))
            packets += 1
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad += 1  # one damaged packet is skipped, as players do
                continue
            for frame in frames:
                # Checked before resampling, so a frame cannot grow past the limit in memory.
                in_rate = max(1, frame.sample_rate)
                if mono.total + frame.samples * rate / in_rate > limit + 2048:
                    raise ContentError("too_long", _too_long(max_seconds))
                mono.add(frame)
            if mono.total > limit:
                raise ContentError("too_long", _too_long(max_seconds))
        samples = mono.finish()
        total = len(samples)
        if bad >= _MIN_BAD_PACKETS and bad > _MAX_BAD_PACKET_SHARE * packets:
            raise ContentError(
                "corrupt", f"{bad} of the {packets} audio packets of the file are damaged."
            )
        if total == 0:
            if bad:
                raise ContentError("corrupt", "None of the file's audio packets can be decoded.")
            raise ContentError("empty", f"The {_label(fmt)} file contains no audio samples.")
        if total > limit:
            raise ContentError("too_long", _too_long(max_seconds))
        codec = _CODEC_NAMES.get(decoder, decoder)
        # Finite already (_Mono); the resampler's overshoot is clipped in place.
        np.clip(samples, -1.0, 1.0, out=samples)
        return Audio(samples=samples, seconds=total / rate, codec=codec, rate=rate)


def _decode_mpeg(
    data: bytes, *, max_seconds: float, cpu_seconds: float, at: float, rate: int
) -> Audio:
    """A clean MPEG audio stream decoded by libmpg123 (:mod:`governance.content.mpg123`), mixed
    to mono there, and resampled by libsoxr as FFmpeg's frames are (:class:`_Mono`): the same
    samples to float rounding. Raises ``mpg123.Unclean`` for FFmpeg to decode it instead."""
    limit = math.ceil(max_seconds * rate)
    parts: list[np.ndarray] = []
    total = 0
    resampler: soxr.ResampleStream | None = None

    def each(samples: np.ndarray, got: int) -> None:
        # (the stream's one rate: mpg123.decode refuses a stream that changes it)
        nonlocal total, resampler
        if time.thread_time() - at > cpu_seconds:
            raise ContentError("timeout", _timeout(cpu_seconds))
        if got != rate:
            if resampler is None:
                resampler = soxr.ResampleStream(got, rate, 1, dtype="float32")
            samples = resampler.resample_chunk(samples)
        total += len(samples)
        if total > limit:
            raise ContentError("too_long", _too_long(max_seconds))
        parts.append(samples)

    layer = mpg123.decode(data, chunk=_MPEG_CHUNK, each=each)
    if resampler is not None:
        parts.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if len(samples) == 0:
        raise mpg123.Unclean("no samples")  # FFmpeg says why
    if len(samples) > limit:
        raise ContentError("too_long", _too_long(max_seconds))
    np.clip(samples, -1.0, 1.0, out=samples)
    codec = {1: "mp1", 2: "mp2"}.get(layer, "mp3")
    return Audio(samples=samples, seconds=len(samples) / rate, codec=codec, rate=rate)


# Sample formats FFmpeg's decoders give (each planar or packed).
_DTYPES: Final[dict[str, type[np.generic]]] = {
    "u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64,
    "flt": np.float32, "dbl": np.float64,
}  # fmt: skip


def _summed(packed: np.ndarray, channels: int) -> np.ndarray:
    """Interleaved samples' channels summed, float32: the numbers of
    ``packed.reshape(-1, channels).sum(axis=1, dtype=np.float32)`` (each channel cast to float32,
    added in order), which numpy computes with a call a sample for 2 to 7 channels (a third of
    a stereo FLAC's decoding time), so those are added a channel at a time. Eight and more
    numpy adds in pairs, in another order: those keep its sum."""
    if channels == 1:
        return packed.astype(np.float32)
    if channels >= 8:
        summed: np.ndarray = packed.reshape(-1, channels).sum(axis=1, dtype=np.float32)
        return summed
    mixed = packed[0::channels].astype(np.float32)
    for channel in range(1, channels):
        np.add(mixed, packed[channel::channels], out=mixed, dtype=np.float32)
    return mixed


class _Mono:
    """Decoded frames to mono float32 at ``rate`` (:data:`SAMPLE_RATE` unless asked otherwise),
    a second of input at a time.

    Each frame's samples are copied out as bytes (a plane a channel, or one interleaved
    plane), and a second of them at a time is read by numpy, its channels averaged, and
    resampled by libsoxr (``soxr``, its "HQ" quality: a linear-phase low-pass whose pass band
    reaches 91 % of the output's Nyquist frequency). Per frame (1,152 samples of MP3, 7,000
    frames in 3 minutes) only the copy runs in Python: a numpy array a frame cost more than
    the arithmetic, and FFmpeg's own resampler through PyAV, called once per frame, three
    times the CPU of this whole class. A change of sample format, channels or rate mid-stream
    (chained OGG, a damaged MP3 header) flushes the batch, and a change of rate starts another
    resampler.
    """

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self.rate = rate
        """The output's sample rate."""
        self.total = 0.0
        """Output samples so far, those still waiting in the batch included."""
        self._out: list[np.ndarray] = []
        self._pending: list[list[bytes]] = []
        self._pending_len = 0
        self._key: tuple[str, int, int] = ("", 0, 0)
        self._dtype: np.dtype[np.generic] = np.dtype(np.float32)
        self._planar = False
        self._scale = 1.0
        self._offset = 0.0
        self._stream: soxr.ResampleStream | None = None

    def add(self, frame: av.AudioFrame) -> None:
        n = frame.samples
        key = (frame.format.name, frame.layout.nb_channels, frame.sample_rate)
        if key != self._key:
            self._start(key)
        channels = key[1]
        if n <= 0 or channels <= 0:
            return
        # A plane's buffer is padded past its samples (and MP3's first frame is short).
        planes, size = frame.planes, n * self._dtype.itemsize
        if self._planar:
            for plane, pending in zip(planes[:channels], self._pending, strict=True):
                pending.append(memoryview(plane)[:size].tobytes())
        else:
            self._pending[0].append(memoryview(planes[0])[: size * channels].tobytes())
        self._pending_len += n
        self.total += n * self.rate / key[2]
        if self._pending_len >= key[2]:  # a second
            self._flush(last=False)

    def _start(self, key: tuple[str, int, int]) -> None:
        """A new sample format, channel count or rate: what came before is flushed."""
        rate_changed = key[2] != self._key[2]
        self._flush(last=rate_changed)
        kind = key[0].removesuffix("p")
        self._dtype = np.dtype(_DTYPES[kind])
        self._planar = key[0].endswith("p") and key[1] > 1
        self._pending = [[] for _ in range(key[1] if self._planar else 1)]
        # Integers to [-1, 1) (unsigned 8-bit is centred on 128 in _flush), and the channels'
        # sum to their mean.
        bits = {"u8": 8, "s16": 16, "s32": 32, "s64": 64}.get(kind)
        self._scale = (2.0 ** (1 - bits) if bits else 1.0) / max(1, key[1])
        self._offset = 128.0 * max(1, key[1]) if kind == "u8" else 0.0
        if rate_changed:
            self._stream = None
            if key[2] != self.rate:
                self._stream = soxr.ResampleStream(key[2], self.rate, 1, dtype="float32")
        self._key = key

    def _mixed(self) -> np.ndarray:
        """The batch's channels summed, float32 (not yet scaled)."""
        dtype, channels = self._dtype, self._key[1]
        if self._planar:
            x = np.frombuffer(b"".join(self._pending[0]), dtype).astype(np.float32)
            for pending in self._pending[1:]:
                x += np.frombuffer(b"".join(pending), dtype)
            return x
        return _summed(np.frombuffer(b"".join(self._pending[0]), dtype), channels)

    def _flush(self, *, last: bool) -> None:
        if self._pending_len:
            x = self._mixed()
            if self._offset:
                x -= self._offset
            if self._scale != 1.0:
                x *= self._scale
            if not np.isfinite(x).all():  # a float file's NaN or infinities: made finite
                np.nan_to_num(x, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        elif last and self._stream is not None:
            x = np.zeros(0, np.float32)
        else:
            return
        self._pending, self._pending_len = [[] for _ in self._pending], 0
        if self._stream is not None:
            x = self._stream.resample_chunk(x, last=last)
        self._out.append(x)

    def finish(self) -> np.ndarray:
        """Every sample, the resampler's tail included."""
        self._flush(last=True)
        self._stream = None
        return np.concatenate(self._out) if self._out else np.zeros(0, np.float32)


def _timeout(cpu_seconds: float) -> str:
    return f"Decoding took more than {cpu_seconds:g} s of CPU time."


def _too_long(max_seconds: float) -> str:
    return f"The audio is longer than the limit of {max_seconds:g} s."


def _why(exc: Exception) -> str:
    """FFmpeg's own words for a failure, without its errno and file name."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror).lower()
    return str(exc) or type(exc).__name__


def _label(fmt: str) -> str:
    return {"mp4": "M4A/MP4", "matroska": "WebM/Matroska"}.get(fmt, fmt.upper())
