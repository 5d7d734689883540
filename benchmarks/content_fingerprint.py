"""The landmark fingerprint (governance.content) on synthetic music: speed and recognition.

No database. A catalog of seeded synthetic tracks (tests/content/synth.py) is fingerprinted
from MP3 files; queries are excerpts of registered and of never-registered tracks under the
transforms below; each is decoded, fingerprinted and matched in a MemoryIndex. Printed:

* speed: seconds of audio per CPU second (this thread) for decode + extract, on the catalog's
  MP3 files, and for extract alone;
* per transform: top-1 among registered queries, recall at threshold(query length), the lowest
  correct score, the highest score of a never-registered query, and the mean number of
  postings a query hash reads (the size of the store's join, per hash);
* with BENCH_FP_LAYOUTS=study,service,d7,wide (default: service only), the same for other
  hash layouts on the same audio: the study's 20 bits (|df| <= 31, dt <= 63), the service's
  22 (dt <= 255), 22 with |df| <= 63 and dt <= 127, 24 with |df| <= 127 and dt <= 255.

Environment: BENCH_FP_REFS (tracks registered, default 30), BENCH_FP_NEGS (never registered,
default 10), BENCH_FP_SECONDS (track length, default 60).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from scipy import signal

from governance.content import audio, fingerprint, landmarks
from tests.content import synth

REFS = int(os.environ.get("BENCH_FP_REFS", "30"))
NEGS = int(os.environ.get("BENCH_FP_NEGS", "10"))
SECONDS = float(os.environ.get("BENCH_FP_SECONDS", "60"))
LAYOUTS = os.environ.get("BENCH_FP_LAYOUTS", "service").split(",")
# (df bits, dt bits); f1 keeps 8 bits. "service" is governance.content's own layout.
ZONES = {"study": (6, 6), "service": (6, 8), "d7": (7, 7), "wide": (8, 8)}


def _excerpt(x: np.ndarray, seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * synth.RATE)
    start = int(rng.integers(0, len(x) - n))
    return x[start : start + n]


def _bandpass(x: np.ndarray) -> np.ndarray:
    sos = signal.butter(4, [300, 3400], btype="band", fs=synth.RATE, output="sos")
    return np.asarray(signal.sosfilt(sos, x), dtype=np.float32)


def _mix_under(x: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``x`` 10 dB below ``other``, peak-normalised."""
    y = x + other[: len(x)] * synth.rms(x) / synth.rms(other[: len(x)]) * 10 ** (10 / 20)
    return (y / max(1.0, float(np.max(np.abs(y))) / 0.99)).astype(np.float32)


def transforms(background: np.ndarray) -> dict[str, Callable[[np.ndarray, int], bytes]]:
    def mp3(x: np.ndarray, seed: int) -> bytes:
        return synth.encode(x, "mp3")

    return {
        "mp3_128k_30s": lambda x, s: mp3(_excerpt(x, 30, np.random.default_rng(s)), s),
        "aac_64k_30s": lambda x, s: synth.encode(_excerpt(x, 30, np.random.default_rng(s)), "m4a"),
        "opus_64k_30s": lambda x, s: synth.encode(
            _excerpt(x, 30, np.random.default_rng(s)), "opus"
        ),
        "crop_8s": lambda x, s: synth.encode(_excerpt(x, 8, np.random.default_rng(s)), "wav"),
        "white_5dB_30s": lambda x, s: synth.encode(
            synth.add_white_noise(_excerpt(x, 30, np.random.default_rng(s)), 5, s), "wav"
        ),
        "white_5dB_8s": lambda x, s: synth.encode(
            synth.add_white_noise(_excerpt(x, 8, np.random.default_rng(s)), 5, s), "wav"
        ),
        "vol_-12dB_30s": lambda x, s: synth.encode(
            synth.gain(_excerpt(x, 30, np.random.default_rng(s)), -12), "wav"
        ),
        "bandpass_30s": lambda x, s: synth.encode(
            _bandpass(_excerpt(x, 30, np.random.default_rng(s))), "wav"
        ),
        "mix_-10dB_30s": lambda x, s: synth.encode(
            _mix_under(_excerpt(x, 30, np.random.default_rng(s)), background), "wav"
        ),
    }


def _use_layout(name: str) -> None:
    df_bits, dt_bits = ZONES[name]
    # The zone constants are read when pairs() runs, so the study's layout can be measured on
    # the same audio without a second implementation.
    setattr(landmarks, "DF_BITS", df_bits)  # noqa: B010
    setattr(landmarks, "DT_BITS", dt_bits)  # noqa: B010
    setattr(landmarks, "DF_MAX", (1 << (df_bits - 1)) - 1)  # noqa: B010
    setattr(landmarks, "DT_MAX", (1 << dt_bits) - 1)  # noqa: B010


def main() -> None:
    print(f"content_fingerprint: {REFS} registered + {NEGS} never-registered synthetic tracks")
    tracks = {f"track-{i:03d}": synth.music(1000 + i, SECONDS) for i in range(REFS)}
    negatives = {f"neg-{i:03d}": synth.music(5000 + i, SECONDS) for i in range(NEGS)}
    background = synth.music(9999, 40)
    ref_files = {key: synth.encode(x, "mp3") for key, x in tracks.items()}

    started = time.thread_time()
    decoded = {key: audio.decode(data) for key, data in ref_files.items()}
    decode_cpu = time.thread_time() - started
    started = time.thread_time()
    for a in decoded.values():
        fingerprint.extract(a, query=False)
    extract_cpu = time.thread_time() - started
    total = sum(a.seconds for a in decoded.values())
    print(
        f"  speed: {total:.0f} s of MP3 audio; decode {decode_cpu:.2f} s CPU, extract "
        f"{extract_cpu:.2f} s CPU: decode + extract {total / (decode_cpu + extract_cpu):.0f}x "
        f"real time, extract alone {total / extract_cpu:.0f}x"
    )

    queries: list[tuple[str, str | None, audio.Audio]] = []  # transform, true key, audio
    for name, make in transforms(background).items():
        for i, (key, x) in enumerate([*tracks.items(), *negatives.items()]):
            truth = key if key in tracks else None
            queries.append((name, truth, audio.decode(make(x, 100 * i + len(name)))))

    for layout in LAYOUTS:
        _use_layout(layout)
        index = fingerprint.MemoryIndex()
        for key, a in decoded.items():
            index.add(key, fingerprint.extract(a, query=False))
        bits = 8 + ZONES[layout][0] + ZONES[layout][1]
        print(f"  layout {layout} ({bits}-bit hashes): {len(index):,} postings")
        stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for name, truth, a in queries:
            fp = fingerprint.extract(a)
            best = fingerprint.score_votes(index.votes(fp), limit=1)
            score = best[0].score if best else 0
            s = stats[name]
            if truth is None:
                # Chance postings: a never-registered query reads only coincidences.
                s["postings"].append(index.postings(fp) / max(1, len(fp)) / len(index) * 1e6)
                s["neg"].append(score)
                continue
            right = bool(best) and best[0].key == truth
            s["top1"].append(right)
            s["recall"].append(right and score >= fingerprint.threshold(a.seconds))
            s["correct"].append(score if right else 0)
        print(
            "  | transform | top-1 | recall@thr | min correct | max negative | thr | "
            "chance postings/hash per 1M |"
        )
        for name, s in stats.items():
            seconds = 8 if name.endswith("8s") else 30
            print(
                f"  | {name} | {sum(s['top1']):.0f}/{len(s['top1'])} | "
                f"{np.mean(s['recall']):.2f} | {min(s['correct']):.0f} | {max(s['neg']):.0f} | "
                f"{fingerprint.threshold(seconds)} | {np.mean(s['postings']):.2f} |"
            )
