"""Recognising registered recordings in audio (issue 15): the ``fingerprint`` space's accuracy
per transform and its speed, on real recorded music, through the service's own code
(``governance.content``: PyAV decoding, the landmark fingerprint, the vote scoring).

The catalogue is Debian's ``wesnoth-1.16-music`` (orchestral OGG Vorbis tracks, GPL), split as
the study did (``docs/studies/fingerprint``, seed 15): 20 tracks of 150 s or more are registered,
10 others are never registered (the negatives), 3 more are background music for the mixes.
For every track, registered or not, one query per transform from a random offset (seed
``BENCH_CONTENT_SEED``, default 1234): a 30-s excerpt re-encoded (MP3 128k, AAC 64k, Opus 64k),
under white or pink noise at 10 and 5 dB SNR, EQ'd, band-passed 300-3,400 Hz, mixed 10 dB
under other music or under speech (espeak-ng), quieter by 12 dB, louder by 9 dB and clipped;
and clean crops of 8 and 15 s. Every query reaches the fingerprint as the bytes of a file (the
codec's own container, or 16-bit WAV), so decoding is measured as a licensee's upload meets
it. With ``BENCH_CONTENT_REFERENCES=mp3`` the registered tracks are handed in as full-band
stereo MP3s (192 kbit/s) instead of the OGGs, as a label might deliver them.

Each query is decided as the service decides it (``MemoryIndex.decide``, ``fingerprint.
decide``): by coverage against the space's threshold (``fingerprint.threshold`` for the query's
length), and where nothing reaches it, by the presence of the best candidates' peaks
(``governance.content.presence``, ``Z_THRESHOLD``). Per transform: top-1 (the decision's best
reference is the right track, registered tracks only), recall and precision of the matches,
the never-registered queries matched, ROC AUC of the right track's coverage against the
negatives' best coverage, the lowest right and highest negative coverage, how many right
matches presence made, the lowest z of the right track where presence was asked, and the
highest presence z of a never-registered query. The impostor
sweep gives the best wrong coverage and, where coverage did not pass, the best wrong z. Speed
in seconds of audio per CPU second of one process (``time.process_time``): registering
(decode + fingerprint) and querying (decode + fingerprint + scoring + presence against the
in-memory index, ``MemoryIndex``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MUSIC = Path("/usr/share/games/wesnoth/1.16/data/core/music")
PACKAGES = ("wesnoth-1.16-music", "espeak-ng")
RATE = 22_050  # the rate the transforms work at; the decoder resamples to the space's rate
SEED = int(os.environ.get("BENCH_CONTENT_SEED", "1234"))
# How the registered tracks are handed in: "ogg" (the package's files as they are) or "mp3"
# (each re-encoded first as a label might deliver it: full-band stereo MP3 at 192 kbit/s).
REFERENCES = os.environ.get("BENCH_CONTENT_REFERENCES", "ogg")
RELATED = {"battle-epic", "frantic-old", "defeat2", "victory2", "silence", "defeat", "victory",
           "elf-land"}  # fmt: skip
MIXERS = ("main_menu", "sad", "transience")
TRANSFORMS = ("clean30", "mp3_128k", "aac_64k", "opus_64k", "white_10dB", "white_5dB",
              "pink_10dB", "pink_5dB", "eq", "bandpass_300_3400", "crop8", "crop15",
              "mix_music_-10dB", "mix_speech_-10dB", "vol_-12dB", "vol_+9dB_clip")  # fmt: skip
SPEECH = (
    "The committee met on Tuesday to review the quarterly figures. Revenue rose by four percent, "
    "while costs in the northern region fell sharply after the new contracts were signed. "
    "Several members asked whether the forecast for next year was too optimistic, and the chair "
    "agreed to publish a revised estimate before the end of the month. In other news, heavy rain "
    "is expected along the coast tonight, with strong winds and possible flooding. "
) * 3


def _ensure_data() -> None:
    """Install the music and espeak-ng with apt where they are missing (as root), else stop
    naming the packages: the benchmark has nothing to measure without them."""
    missing = not MUSIC.is_dir() or shutil.which("espeak-ng") is None
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {' '.join(PACKAGES)} with apt-get...", flush=True)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", *PACKAGES],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and MUSIC.is_dir():
            return
        sys.exit(f"content: apt-get install {' '.join(PACKAGES)} failed:\n{done.stderr[-2000:]}")
    sys.exit(
        f"content: needs Debian's {' and '.join(PACKAGES)} (apt-get install {' '.join(PACKAGES)})"
    )


# --------------------------------------------------------------------------------------------
# Audio in and out (PyAV), and the transforms
# --------------------------------------------------------------------------------------------


def _decode_file(path: Path | io.BytesIO, rate: int = RATE) -> np.ndarray:
    import av

    parts: list[np.ndarray] = []
    with av.open(path, mode="r") as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(audio=0):
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(parts).astype(np.float32)


def _delivered_mp3(path: Path) -> bytes:
    """The file at ``path`` re-encoded as a stereo MP3 at 44.1 kHz and 192 kbit/s (LAME)."""
    import av

    buffer = io.BytesIO()
    with av.open(path, mode="r") as source, av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=44_100)
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = 192_000
        stream.layout = "stereo"
        resampler = av.AudioResampler(format=stream.format.name, layout="stereo", rate=44_100)
        for frame in [*source.decode(audio=0), None]:
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def _encoded(x: np.ndarray, codec: str, bitrate: int) -> bytes:
    """``x`` (mono, RATE) encoded with PyAV in the codec's usual container."""
    import av

    rate = {"libmp3lame": 44_100, "aac": 44_100, "libopus": 48_000}[codec]
    form = {"libmp3lame": "mp3", "aac": "adts", "libopus": "ogg"}[codec]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=form) as out:
        stream = out.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        pcm = np.clip(x, -1, 1).astype(np.float32).reshape(1, -1)
        for start in range(0, pcm.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start : start + 4096]), format="flt", layout="mono"
            )
            frame.sample_rate = RATE
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    out.mux(packet)
        for resampled in resampler.resample(None):
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def _wav(x: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def _noise(x: np.ndarray, snr_db: float, pink: bool, rng: np.random.Generator) -> np.ndarray:
    n = rng.standard_normal(len(x))
    if pink:
        spectrum = np.fft.rfft(n)
        f = np.arange(len(spectrum), dtype=np.float64)
        f[0] = 1
        n = np.fft.irfft(spectrum / np.sqrt(f), len(x))
    return (x + n / _rms(n) * _rms(x) / 10 ** (snr_db / 20)).astype(np.float32)


def _eq(x: np.ndarray) -> np.ndarray:
    """+8 dB bass shelf below 150 Hz, -10 dB around 1 kHz, +6 dB at 3-5 kHz, -12 dB above 8 kHz."""
    spectrum = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    gain = (
        8 / (1 + (f / 150) ** 2)
        - 10 * np.exp(-0.5 * (np.log2((f + 1) / 1000) / 0.5) ** 2)
        + 6 * np.exp(-0.5 * (np.log2((f + 1) / 4000) / 0.4) ** 2)
        - 12 / (1 + (8000 / (f + 1)) ** 4)
    )
    return np.fft.irfft(spectrum * 10 ** (gain / 20), len(x)).astype(np.float32)


def _bandpass(x: np.ndarray) -> np.ndarray:
    from scipy import signal

    sos = signal.butter(4, [300, 3400], btype="band", fs=RATE, output="sos")
    filtered: np.ndarray = signal.sosfilt(sos, x)
    return filtered.astype(np.float32)


def _under(x: np.ndarray, background: np.ndarray, db: float = -10.0) -> np.ndarray:
    """``x`` mixed ``db`` below ``background``."""
    background = np.resize(background, len(x))
    return (x + background / _rms(background) * _rms(x) / 10 ** (db / 20)).astype(np.float32)


def _peak(x: np.ndarray) -> np.ndarray:
    p = float(np.max(np.abs(x)))
    return x / p * 0.99 if p > 0.99 else x


@dataclass(frozen=True)
class Query:
    transform: str
    track: str
    registered: bool
    data: bytes
    seconds: float


def _queries(
    tracks: dict[str, np.ndarray], registered: set[str], mixers: list[np.ndarray],
    speech: np.ndarray,
) -> list[Query]:  # fmt: skip
    rng = np.random.default_rng(SEED)
    encoders: dict[str, Callable[[np.ndarray], bytes]] = {
        "mp3_128k": lambda x: _encoded(x, "libmp3lame", 128_000),
        "aac_64k": lambda x: _encoded(x, "aac", 64_000),
        "opus_64k": lambda x: _encoded(x, "libopus", 64_000),
    }
    queries = []
    for name, x in tracks.items():
        for transform in TRANSFORMS:
            length = {"crop8": 8, "crop15": 15}.get(transform, 30) * RATE
            start = int(rng.integers(0, len(x) - length))
            y = x[start : start + length].copy()
            if transform.startswith(("white_", "pink_")):
                kind, snr = transform.split("_")
                y = _noise(y, float(snr[:-2]), kind == "pink", rng)
            elif transform == "eq":
                y = _eq(y)
            elif transform == "bandpass_300_3400":
                y = _bandpass(y)
            elif transform == "mix_music_-10dB":
                m = mixers[int(rng.integers(len(mixers)))]
                y = _under(y, m[int(rng.integers(0, max(1, len(m) - len(y)))) :])
            elif transform == "mix_speech_-10dB":
                y = _under(y, speech[int(rng.integers(0, max(1, len(speech) - len(y)))) :])
            elif transform == "vol_-12dB":
                y = y * 10 ** (-12 / 20)
            elif transform == "vol_+9dB_clip":
                y = np.clip(y * 10 ** (9 / 20), -1, 1)
            y = _peak(y)
            data = encoders[transform](y) if transform in encoders else _wav(y)
            queries.append(Query(transform, name, name in registered, data, length / RATE))
    return queries


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One query's outcome (``fingerprint.MemoryIndex.decide``)."""

    registered: bool
    coverage: int  # the right track's coverage (0 for a never-registered query)
    best_coverage: int
    top1: bool  # the decision's best reference is the right track
    matched: bool
    right: bool  # matched, and the match is the right track
    by_presence: bool
    best_z: float  # the best presence z verified, where coverage did not pass (else -inf)
    right_z: float | None  # the right track's z, where presence was asked (else None)
    track: str
    right_presence: Any  # the right track's presence.Presence, where verified (else None)

    @classmethod
    def of(cls, registered: bool, track: str, decision: object) -> Row:
        from governance.content import fingerprint

        assert isinstance(decision, fingerprint.Decision)
        cands = decision.candidates
        match = [c.key for c in decision.by_coverage] or [v.key for v in decision.by_presence]
        return cls(
            registered=registered,
            coverage=next((c.score for c in cands if c.key == track), 0) if registered else 0,
            best_coverage=cands[0].score if cands else 0,
            top1=registered and decision.best == track,
            matched=bool(match),
            right=bool(match) and registered and match[0] == track,
            by_presence=bool(decision.by_presence),
            best_z=decision.verified[0].presence.z if decision.verified else float("-inf"),
            right_z=next((v.presence.z for v in decision.verified if v.key == track), float("-inf"))
            if registered and decision.verified
            else None,
            track=track,
            right_presence=next((v.presence for v in decision.verified if v.key == track), None)
            if registered
            else None,
        )


def _timed_verify(fingerprint: Any) -> list[float]:
    """Wrap ``fingerprint.verify`` (which ``decide`` calls) to count the queries verified,
    the references scanned and their CPU seconds: [queries, references, seconds]."""
    totals = [0.0, 0.0, 0.0]
    verify = fingerprint.verify

    def timed(query: Any, candidates: list[str], peaks_of: Any) -> Any:
        started = time.process_time()
        out = verify(query, candidates, peaks_of)
        totals[0] += 1
        totals[1] += len(candidates)
        totals[2] += time.process_time() - started
        return out

    fingerprint.verify = timed
    return totals


def _z(value: float) -> str:
    return "-" if value == float("-inf") else f"{value:.1f}"


def _auc(positives: list[float], negatives: list[float]) -> float:
    """ROC AUC: the chance that a right match outscores a negative's best (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    p, n = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def _sweep(
    index: object, negatives: dict[str, np.ndarray], mixers: list[np.ndarray], speech: np.ndarray
) -> None:
    """The impostor tail: overlapping windows of every never-registered recording (the
    negatives, the mix backgrounds, the speech), clean and 10 dB under speech, 8-s windows every
    4 s and 30-s windows every 10 s, each scored against the registered tracks: how high the
    best (necessarily wrong) candidate reaches, against the threshold for that length."""
    from governance.content import fingerprint, presence

    assert isinstance(index, fingerprint.MemoryIndex)
    rng = np.random.default_rng(7)
    sources = [*negatives.values(), *mixers, speech]
    for length, hop in ((8, 4), (30, 10)):
        scores: list[int] = []
        zs: list[float] = []
        for n, x in enumerate(sources):
            for start in range(0, len(x) - length * RATE, hop * RATE):
                window = x[start : start + length * RATE]
                # each window clean, and (but the speech's own) 10 dB under speech
                for mixed in (False,) if n == len(sources) - 1 else (False, True):
                    y = window
                    if mixed:
                        at = int(rng.integers(0, len(speech) - len(window)))
                        y = _under(window, speech[at:])
                    decision = index.decide(fingerprint.fingerprint(_wav(_peak(y))))
                    candidates = decision.candidates
                    scores.append(candidates[0].score if candidates else 0)
                    if decision.verified:
                        zs.append(decision.verified[0].presence.z)
        values = np.asarray(scores)
        limit = fingerprint.threshold(length)
        print(f"impostor sweep, {length}-s windows: {len(values):,} windows, best wrong score: "
              f"max {values.max()}, 99.9th percentile {np.quantile(values, 0.999):.1f}, median "
              f"{np.median(values):.0f}; at or above the threshold {limit}: "
              f"{int((values >= limit).sum())}", flush=True)  # fmt: skip
        z = np.asarray(zs)
        print(f"impostor sweep, {length}-s windows, presence (where coverage did not pass): "
              f"{len(z):,} windows verified, best z max {z.max():.2f}, median {np.median(z):.2f}; "
              f"at or above {presence.Z_THRESHOLD}: {int((z >= presence.Z_THRESHOLD).sum())}",
              flush=True)  # fmt: skip


def split() -> tuple[list[str], list[str], list[str]]:
    """The tracks (every OGG), the 20 registered ones the benchmark queries, and the never
    registered ones: a fixed draw among the tracks of 150 s or more outside ``RELATED``."""
    names = sorted(p.stem for p in MUSIC.glob("*.ogg"))
    durations = {n: len(_decode_file(MUSIC / f"{n}.ogg", 8_000)) / 8_000 for n in names}
    long = [n for n in names if durations[n] >= 150 and n not in RELATED]
    order = [str(n) for n in np.random.default_rng(15).permutation(long)]
    negatives = sorted([*order[20:], "love_theme", "revelation", "underground"])
    return names, sorted(order[:20]), negatives


def main() -> None:
    print("## content: the fingerprint space on real music (governance.content)", flush=True)
    _ensure_data()
    from governance.content import audio, fingerprint

    _, registered, negatives = split()
    print(f"registered {len(registered)} tracks, {len(negatives)} never registered; "
          f"fingerprint {fingerprint.MODEL} {fingerprint.VERSION}", flush=True)  # fmt: skip

    index = fingerprint.MemoryIndex()
    seconds = decode_cpu = extract_cpu = 0.0
    if REFERENCES == "mp3":
        print("references handed in as MP3 (stereo, 44.1 kHz, 192 kbit/s, encoded from the OGGs "
              "first, not timed)", flush=True)  # fmt: skip
    for name in registered:
        path = MUSIC / f"{name}.ogg"
        data = _delivered_mp3(path) if REFERENCES == "mp3" else path.read_bytes()
        started = time.process_time()
        decoded = audio.decode(data)
        decode_cpu += time.process_time() - started
        started = time.process_time()
        index.add(name, fingerprint.extract(decoded, query=False))
        extract_cpu += time.process_time() - started
        seconds += decoded.seconds
    print(f"registering: {seconds:,.0f} s of audio, decode {decode_cpu:.1f} s + fingerprint "
          f"{extract_cpu:.1f} s of CPU: {seconds / (decode_cpu + extract_cpu):,.0f}x real time "
          f"per core", flush=True)  # fmt: skip

    tracks = {n: _decode_file(MUSIC / f"{n}.ogg") for n in (*registered, *negatives)}
    mixers = [_decode_file(MUSIC / f"{n}.ogg") for n in MIXERS]
    with tempfile.TemporaryDirectory() as folder:
        spoken = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "165", "-w", str(spoken), SPEECH], check=True)
        speech = _decode_file(spoken)
    started = time.perf_counter()
    queries = _queries(tracks, set(registered), mixers, speech)
    print(f"{len(queries)} queries made in {time.perf_counter() - started:.0f} s", flush=True)

    # per transform, per query: registered?, the right track's coverage, the best coverage,
    # the threshold, the decision's best is right?, the match (or None), matched by presence?,
    # the best presence z verified (where coverage did not pass)
    rows: dict[str, list[Row]] = defaultdict(list)
    query_seconds = query_cpu = 0.0
    scans = _timed_verify(fingerprint)
    for query in queries:
        started = time.process_time()
        fp = fingerprint.fingerprint(query.data)
        decision = index.decide(fp)
        query_cpu += time.process_time() - started
        query_seconds += fp.seconds
        rows[query.transform].append(Row.of(query.registered, query.track, decision))
    print(f"querying: {query_seconds:,.0f} s of audio in {query_cpu:.1f} s of CPU (decode + "
          f"fingerprint + scoring + presence, {len(registered)} registered tracks): "
          f"{query_seconds / query_cpu:,.0f}x real time per core", flush=True)  # fmt: skip

    print(f"presence: {int(scans[0]):,} queries verified, {int(scans[1]):,} references scanned in "
          f"{scans[2]:.1f} s of CPU ({1000 * scans[2] / max(scans[1], 1):.1f} ms a reference, "
          f"peaks in memory)", flush=True)  # fmt: skip
    print("| transform | top-1 | recall at threshold | precision | false matches | ROC AUC "
          "(coverage) | lowest right coverage | highest negative coverage | matched by presence "
          "| lowest right presence z | highest negative presence z |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    totals = [0, 0, 0, 0, 0]  # top-1, positives, true matches, false matches, negatives
    for transform in TRANSFORMS:
        results = rows[transform]
        pos = [r for r in results if r.registered]
        neg = [r for r in results if not r.registered]
        top1 = sum(r.top1 for r in pos)
        true = sum(r.right for r in pos)
        # a false match: a never-registered query matched, or a registered one matched wrong
        false = sum(r.matched for r in neg) + sum(r.matched and not r.right for r in pos)
        precision = f"{true / (true + false):.3f}" if true + false else "-"
        auc = _auc([r.coverage for r in pos], [r.best_coverage for r in neg])
        by_presence = sum(r.right and r.by_presence for r in pos)
        negative_z = max((r.best_z for r in neg), default=float("-inf"))
        right_z = min((r.right_z for r in pos if r.right_z is not None), default=float("-inf"))
        print(f"| {transform} | {top1}/{len(pos)} | {true / len(pos):.2f} | {precision} | "
              f"{false}/{len(neg)} | {auc:.3f} | {min(r.coverage for r in pos)} | "
              f"{max(r.best_coverage for r in neg)} | {by_presence} | {_z(right_z)} | "
              f"{_z(negative_z)} |")  # fmt: skip
        for i, value in enumerate((top1, len(pos), true, false, len(neg))):
            totals[i] += value
    for transform in TRANSFORMS:
        asked = [r for r in rows[transform] if r.right_z is not None]
        if asked:
            low = min(asked, key=lambda r: float(r.right_z or 0))
            pr = low.right_presence
            print(f"lowest right presence, {transform}: {low.track}"
                  + (f" at {pr.offset * fingerprint.FRAME_SECONDS:.1f} s, {pr.present} of "
                     f"{pr.peaks} peaks present (chance {pr.expected:.1f}), weight "
                     f"{pr.weight:.1f} (chance {pr.expected_weight:.1f}, sd {pr.sd:.2f}), "
                     f"z {pr.z:.2f}" if pr is not None else ": not among the candidates"),
                  flush=True)  # fmt: skip
    top1, positives, true, false, negative = totals
    overall = true / (true + false) if true + false else float("nan")
    _sweep(index, {n: tracks[n] for n in negatives}, mixers, speech)
    print(f"all: top-1 {top1}/{positives}, recall {true / positives:.3f}, precision "
          f"{overall:.3f}, false matches {false} ({negative} never-registered queries)",
          flush=True)  # fmt: skip
