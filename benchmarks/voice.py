"""Calibrating the ``voice`` space (issue 15): the same voice found across sentences, speeds
and pitches; other voices not.

Every utterance is synthesised here, offline, by two speech synthesisers from Debian:

* ``espeak-ng`` (formant synthesis): one identity per voice variant (``en-us+m3``,
  ``en-us+f2``, ``en-us+klatt``, ...). A variant sets the pitch range, the formant frequencies
  and bandwidths, the roughness and the breathiness: what a listener hears as the speaker.
  Variants differ by as little as 1-3 % of their formant frequencies (``m1`` and ``m3``), so
  some pairs of "different speakers" are near twins.
* ``flite`` (CMU, statistical parametric synthesis): ``slt``, ``rms``, ``awb`` (trained on
  the CMU ARCTIC recordings of three real speakers) and ``kal16`` (diphones of a fourth).

Identities ``ENROLLED`` have three reference recordings each (two sentences apiece: at the
voice's default speed, faster and slower), embedded as the service embeds an artist's
references. Queries are other sentences (never one of the references'), two sentences each
(4-8 s), in these ways (``KINDS``):

* ``plain``: the voice's default speed and pitch;
* ``fast`` / ``slow``: espeak-ng ``-s 195`` / ``-s 125`` words a minute (default 175), flite
  ``duration_stretch`` 0.8 / 1.25;
* ``pitch_up`` / ``pitch_down``: espeak-ng ``-p 65`` / ``-p 35`` (default 50); flite
  ``int_f0_target_mean`` +15 % / -15 %;
* ``other_language``: espeak-ng voices only, the same variant reading French or German (a
  speaker in another language);
* ``at_11025``: the ``plain`` utterance decoded at 11,025 Hz (the rate every other space reads)
  and upsampled to 16 kHz by the module, as a query decoded once for every space would be;
* ``mp3_64k``: the ``plain`` utterance as MP3 at 64 kbit/s; ``under_music``: the ``plain``
  utterance over music 10 dB quieter than the voice (a Wesnoth track outside the content
  bench's split, Debian's ``wesnoth-1.16-music``): both with the content bench's encoder and
  mixer, reported, not calibrated on.

Identities ``NEVER_ENROLLED`` are queried the same way and must match nobody.

A query is scored against each enrolled identity as the service scores it (``voice.score``:
its best window's best cosine among the identity's reference vectors). Reported: ROC AUC over
query-identity pairs (a query's own identity against every other, never-enrolled queries
included) per kind; ROC AUC over every pair of single utterances (same voice against other
voice, references and queries alike), the issue's measure; top-1 identification among the
enrolled identities; precision, recall and false matches at the threshold.

The threshold is set on a calibration half of the queries (those whose first sentence has an
even number) and reported on the other half, over the kinds ``CALIBRATED_KINDS``
(``other_language``, ``mp3_64k`` and ``under_music`` are reported, not calibrated on). On
that half it is the middle of the gap between the lowest score of a query against its own
identity and the highest score against another identity where one of the two is a flite voice
(voices of distinct recorded speakers).
The espeak-ng variants among themselves are not used for it: several are the same synthesised
voice with formants moved by a few percent (they are reported, and they do match each other).
The printed sweep gives recall and false-match rates at other thresholds.

Speed is CPU seconds of ``voice.embed`` (one torch thread unless ``OMP_NUM_THREADS`` says
otherwise) per second of audio, decoding excluded.

``BENCH_VOICE_SEED`` (default 15) seeds the choice of sentences. Figures: docs/matching.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks import content as music_bench
from governance.content import audio
from governance.content import voice as space

PACKAGES = ("espeak-ng", "flite", "wesnoth-1.16-music")
TOOLS = {"espeak-ng": "espeak-ng", "flite": "flite"}
SEED = int(os.environ.get("BENCH_VOICE_SEED", "15"))

ESPEAK_ENROLLED = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "croak", "Andy", "Annie", "boris", "edward", "linda",
)  # fmt: skip
ESPEAK_NEVER = ("klatt4", "iven", "john", "grandma", "quincy", "victor", "steph", "max")
FLITE_ENROLLED = ("slt", "rms", "awb", "kal16")
KINDS = ("plain", "fast", "slow", "pitch_up", "pitch_down", "other_language", "at_11025",
         "mp3_64k", "under_music")  # fmt: skip
CALIBRATED_KINDS = ("plain", "fast", "slow", "pitch_up", "pitch_down", "at_11025")

# Harvard sentences (IEEE Recommended Practice for Speech Quality Measurements, 1969).
SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
)
OTHER_LANGUAGE = {
    "fr": "Le vieux phare éclaire la côte pendant les longues nuits d'hiver.",
    "de": "Der alte Leuchtturm erhellt die Küste in den langen Winternächten.",
}

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Query:
    identity: str
    kind: str
    sentence: int  # index into SENTENCES, -1 for another language
    vectors: Vectors


def _installed(package: str) -> bool:
    if package in TOOLS:
        return shutil.which(TOOLS[package]) is not None
    return music_bench.MUSIC.is_dir()


def _ensure_tools() -> None:
    """Install espeak-ng and flite with apt where missing (as root), else stop naming them."""
    missing = [p for p in PACKAGES if not _installed(p)]
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {' '.join(missing)} with apt-get...", flush=True)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", *missing],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode == 0 and all(_installed(p) for p in missing):
            return
        sys.exit(f"voice: apt-get install {' '.join(missing)} failed:\n{done.stderr[-2000:]}")
    sys.exit(f"voice: needs Debian's {' and '.join(missing)} (apt-get install {' '.join(missing)})")


def espeak(
    variant: str, text: str, *, speed: int = 175, pitch: int = 50, lang: str = "en-us"
) -> bytes:
    """A WAV file of espeak-ng reading ``text`` with voice ``lang+variant``."""
    command = ["espeak-ng", "-v", f"{lang}+{variant}", "-s", str(speed), "-p", str(pitch)]
    return subprocess.run([*command, "--stdout", text], capture_output=True, check=True).stdout


_F0_MEAN = {"slt": 160.0, "rms": 90.0, "awb": 110.0, "kal16": 100.0}


def flite(voice: str, text: str, *, stretch: float = 1.0, f0: float = 1.0) -> bytes:
    """A WAV file of flite reading ``text`` with ``voice``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        command = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}"]
        if f0 != 1.0:
            command += ["--setf", f"int_f0_target_mean={_F0_MEAN[voice] * f0:.0f}"]
        subprocess.run([*command, "-t", text, "-o", str(out)], check=True, capture_output=True)
        return out.read_bytes()


def synthesise(identity: str, kind: str, text: str, *, lang: str = "en-us") -> bytes:
    engine, name = identity.split(":", 1)
    if engine == "flite":
        stretch = {"fast": 0.8, "slow": 1.25}.get(kind, 1.0)
        f0 = {"pitch_up": 1.15, "pitch_down": 0.85}.get(kind, 1.0)
        return flite(name, text, stretch=stretch, f0=f0)
    speed = {"fast": 195, "slow": 125}.get(kind, 175)
    pitch = {"pitch_up": 65, "pitch_down": 35}.get(kind, 50)
    return espeak(name, text, speed=speed, pitch=pitch, lang=lang)


class Timer:
    def __init__(self) -> None:
        self.cpu = 0.0
        self.seconds = 0.0

    def embed(self, data: bytes, *, rate: int = space.SAMPLE_RATE) -> Vectors:
        decoded = audio.decode(data, rate=rate)
        return self.embed_samples(decoded.samples, decoded.rate)

    def embed_samples(self, samples: npt.NDArray[np.float32], rate: int) -> Vectors:
        started = time.process_time()
        embedding = space.embed(samples, rate)
        self.cpu += time.process_time() - started
        self.seconds += len(samples) / rate
        return embedding.vectors


MIX_RATE = music_bench.RATE  # 22,050 Hz, the rate the content bench encodes and mixes at


def music() -> list[npt.NDArray[np.float32]]:
    """The content bench's mix backgrounds (Wesnoth tracks outside its split), at MIX_RATE."""
    return [
        audio.decode((music_bench.MUSIC / f"{name}.ogg").read_bytes(), rate=MIX_RATE).samples
        for name in music_bench.MIXERS
    ]


def transformed(
    data: bytes, kind: str, backgrounds: list[npt.NDArray[np.float32]], rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    """The ``plain`` recording as MP3 at 64 kbit/s, or under music 10 dB quieter than the voice
    (at MIX_RATE; the content bench's encoder and mixer)."""
    x = audio.decode(data, rate=MIX_RATE).samples
    if kind == "mp3_64k":
        mp3 = music_bench._encoded(x, "libmp3lame", 64_000)
        return np.asarray(audio.decode(mp3, rate=MIX_RATE).samples, dtype=np.float32)
    m = backgrounds[int(rng.integers(len(backgrounds)))]
    start = int(rng.integers(0, max(1, len(m) - len(x))))
    # _under(a, b): a with b 10 dB louder over it, so here the voice is 10 dB over the music.
    mixed = music_bench._under(m[start : start + len(x)], x)
    return np.asarray(music_bench._peak(mixed), dtype=np.float32)


def auc(positive: list[float], negative: list[float]) -> float:
    """ROC AUC: the chance that a random positive outscores a random negative (ties half)."""
    if not positive or not negative:
        return float("nan")
    neg = np.sort(np.asarray(negative))
    pos = np.asarray(positive)
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(pos) * len(neg)))


def main() -> None:
    print("## voice space: resemblyzer GE2E, synthetic voices (espeak-ng, flite)")
    _ensure_tools()
    started = time.perf_counter()
    t0 = time.process_time()
    space.encoder()
    print(f"model {space.MODEL} {space.VERSION}, dimension {space.DIMENSION}, threshold "
          f"{space.THRESHOLD}; loaded in {time.process_time() - t0:.2f} CPU s; torch threads "
          f"{space.threads()}")  # fmt: skip
    enrolled = [f"espeak:{v}" for v in ESPEAK_ENROLLED] + [f"flite:{v}" for v in FLITE_ENROLLED]
    never = [f"espeak:{v}" for v in ESPEAK_NEVER]
    rng = np.random.default_rng(SEED)
    timer = Timer()
    backgrounds = music()
    mixing = np.random.default_rng(SEED + 1)  # apart, so the sentences drawn stay the same

    references: dict[str, Vectors] = {}
    utterances: list[tuple[str, Vectors]] = []  # single utterances, for the pair AUC
    queries: list[Query] = []
    for identity in enrolled + never:
        order = [int(i) for i in rng.permutation(len(SENTENCES))]
        if identity in enrolled:
            rows = []
            for n, kind in enumerate(("plain", "fast", "slow")):
                text = f"{SENTENCES[order[2 * n]]} {SENTENCES[order[2 * n + 1]]}"
                v = timer.embed(synthesise(identity, kind if n else "plain", text))
                rows.append(v)
                utterances += [(identity, row) for row in v]
            references[identity] = np.concatenate(rows)
        for n, kind in enumerate(KINDS[:5]):
            sentence = order[6 + 2 * n]
            text = f"{SENTENCES[sentence]} {SENTENCES[order[7 + 2 * n]]}"
            data = synthesise(identity, kind, text)
            v = timer.embed(data)
            queries.append(Query(identity, kind, sentence, v))
            utterances += [(identity, row) for row in v]
            if kind == "plain":
                queries.append(Query(identity, "at_11025", sentence,
                                     timer.embed(data, rate=audio.SAMPLE_RATE)))  # fmt: skip
                for variant in ("mp3_64k", "under_music"):
                    y = transformed(data, variant, backgrounds, mixing)
                    queries.append(Query(identity, variant, sentence,
                                         timer.embed_samples(y, MIX_RATE)))  # fmt: skip
        if identity.startswith("espeak:"):
            for lang, text in OTHER_LANGUAGE.items():
                data = synthesise(identity, "plain", text, lang=lang)
                queries.append(Query(identity, "other_language", -1, timer.embed(data)))
    print(f"identities: {len(enrolled)} enrolled ({len(ESPEAK_ENROLLED)} espeak-ng, "
          f"{len(FLITE_ENROLLED)} flite), {len(never)} never enrolled (espeak-ng); "
          f"{sum(len(r) for r in references.values())} reference vectors, "
          f"{len(queries)} queries")  # fmt: skip
    print(f"speed: {timer.seconds:,.1f} s of audio embedded in {timer.cpu:.1f} CPU s = "
          f"{timer.seconds / timer.cpu:.1f}x real time (one process)")  # fmt: skip

    # Single utterances: every pair, same voice against other voice.
    same: list[float] = []
    other: list[float] = []
    for i in range(len(utterances)):
        for j in range(i + 1, len(utterances)):
            c = float(utterances[i][1] @ utterances[j][1])
            (same if utterances[i][0] == utterances[j][0] else other).append(c)
    print(f"utterance pairs: {len(same):,} same-voice, {len(other):,} other-voice; ROC AUC "
          f"{auc(same, other):.4f}; same-voice cosine min {min(same):.3f} median "
          f"{np.median(same):.3f}; other-voice median {np.median(other):.3f}, 99th pct "
          f"{np.percentile(other, 99):.3f}, max {max(other):.3f}")  # fmt: skip

    # Query-identity scores.
    scores: list[dict[str, float]] = []
    for q in queries:
        scores.append({who: space.score(q.vectors, ref)[0] for who, ref in references.items()})

    def rows_of(selected: list[int], threshold: float) -> dict[str, float]:
        pos = [
            scores[i][queries[i].identity] for i in selected if queries[i].identity in references
        ]
        neg = [s for i in selected for who, s in scores[i].items() if who != queries[i].identity]
        own = [i for i in selected if queries[i].identity in references]
        top1 = sum(max(scores[i], key=scores[i].__getitem__) == queries[i].identity for i in own)
        hits = [(i, who) for i in selected for who, s in scores[i].items() if s >= threshold]
        right = sum(queries[i].identity == who for i, who in hits)
        strangers = [i for i in selected if queries[i].identity not in references]
        false_neg = sum(any(s >= threshold for s in scores[i].values()) for i in strangers)
        wrong = sum(
            any(s >= threshold for who, s in scores[i].items() if who != queries[i].identity)
            for i in own
        )  # fmt: skip
        return {
            "n": len(own), "top1": top1, "auc": auc(pos, neg),
            "precision": right / len(hits) if hits else float("nan"),
            "recall": right / len(own) if own else float("nan"),
            "strangers": len(strangers), "stranger_matches": false_neg,
            "wrong": wrong, "lowest_own": min(pos) if pos else float("nan"),
            "highest_other": max(neg) if neg else float("nan"),
        }  # fmt: skip

    calibration = [
        i for i, q in enumerate(queries) if q.kind in CALIBRATED_KINDS and q.sentence % 2 == 0
    ]
    held_out = [
        i for i, q in enumerate(queries) if q.kind in CALIBRATED_KINDS and q.sentence % 2 == 1
    ]

    def flite_pair(i: int, who: str) -> bool:
        return queries[i].identity.startswith("flite:") or who.startswith("flite:")

    own_scores = [scores[i][queries[i].identity] for i in calibration
                  if queries[i].identity in references]  # fmt: skip
    wrong_scores = [s for i in calibration for who, s in scores[i].items()
                    if who != queries[i].identity]  # fmt: skip
    distinct = [s for i in calibration for who, s in scores[i].items()
                if who != queries[i].identity and flite_pair(i, who)]  # fmt: skip
    low, high = min(own_scores), max(distinct)
    print(f"calibration half: {len(calibration)} queries; lowest own score {low:.3f}; highest "
          f"score against another identity {max(wrong_scores):.3f} (espeak-ng variants), "
          f"{high:.3f} where a flite voice is one of the two (distinct speakers)")  # fmt: skip
    if low > high:
        print(f"threshold: the middle of the gap between them, {(low + high) / 2:.2f} "
              f"(the module's: {space.THRESHOLD})")  # fmt: skip
    else:
        print(f"no gap between own and distinct-voice scores (the module's: {space.THRESHOLD})")
    for t in (0.80, 0.85, 0.88, 0.90, 0.92, 0.95):
        recall = sum(s >= t for s in own_scores) / len(own_scores)
        rate = sum(s >= t for s in wrong_scores) / len(wrong_scores)
        print(f"  at {t:.2f}: recall {recall:.3f}, other-identity pairs at or above "
              f"{rate:.4f} (where a flite voice is one: "
              f"{sum(s >= t for s in distinct) / len(distinct):.4f})")  # fmt: skip
    threshold = space.THRESHOLD

    print()
    print(
        f"held-out half at the module's threshold {threshold}, per kind (other_language: "
        "every query):"
    )
    print(
        "| kind | top-1 | ROC AUC | precision | recall | wrong identity above threshold | "
        "never-enrolled matched | lowest own score | highest other score |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i in held_out:
        by_kind[queries[i].kind].append(i)
    for kind in ("other_language", "mp3_64k", "under_music"):
        by_kind[kind] = [i for i, q in enumerate(queries) if q.kind == kind]
    by_kind["flite voices (held-out half)"] = [
        i for i in held_out if queries[i].identity.startswith("flite:")
    ]
    by_kind["espeak-ng voices (held-out half)"] = [
        i for i in held_out if queries[i].identity.startswith("espeak:")
    ]
    by_kind["all (held-out half)"] = held_out
    by_kind["all (both halves)"] = calibration + held_out
    for kind, selected in by_kind.items():
        r = rows_of(selected, threshold)
        print(f"| {kind} | {r['top1']}/{r['n']} | {r['auc']:.4f} | {r['precision']:.3f} | "
              f"{r['recall']:.2f} | {r['wrong']}/{r['n']} | "
              f"{r['stranger_matches']}/{r['strangers']} | {r['lowest_own']:.3f} | "
              f"{r['highest_other']:.3f} |")  # fmt: skip

    # Which other identities come closest: the near twins.
    closest = sorted(
        ((s, queries[i].identity, who) for i in calibration + held_out
         for who, s in scores[i].items() if who != queries[i].identity),
        reverse=True,
    )[:8]  # fmt: skip
    print()
    print("closest other-identity scores: " + "; ".join(
        f"{q} -> {w} {s:.3f}" for s, q, w in closest))  # fmt: skip
    print(f"wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
