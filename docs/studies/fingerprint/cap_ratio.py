"""The stop list's ratio at 10,000 tracks, in memory (issue 15, 2026-12-05): the 20 registered
tracks of ``benchmarks.content`` stand for a catalogue of ``TRACKS`` in which every hash is as
common as in them (the "popular" replication of benchmarks/content_scale.py), so a hash with n
postings among the 20 has n * TRACKS / 20 in the catalogue, and ``fingerprint.hash_cap`` at a
ratio r leaves it out when that passes r times the catalogue's mean. Queries: the cached ones of
query_density.py (run its ``build`` first)."""
import math, pickle, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import numpy as np
from governance.content import fingerprint

TRACKS = 10_000
refs, qs, _ = pickle.loads((ROOT / "var" / "cache.pkl").read_bytes())
index = fingerprint.MemoryIndex()
for k, (h, t, s) in refs.items():
    index.add(k, fingerprint.Fingerprint(h, t, s))
scale = TRACKS / len(refs)
total = len(index) * scale
fps = {}
from governance.content import audio
for tr, track, reg, smp, sec in qs:
    if reg and tr in ("clean30", "white_5dB", "pink_5dB", "white_10dB", "crop8", "mix_music_-10dB", "mix_speech_-10dB"):
        a = audio.Audio.from_samples(smp.astype(np.float32))
        fps.setdefault(tr, []).append((track, fingerprint.extract(a)))
for ratio in (None, 8, 12, 16, 24, 32):
    if ratio is None:
        cap = None; label = "no cap"
    else:
        cap = math.floor(max(fingerprint.CAP_MIN, math.ceil(ratio * total / (1 << fingerprint.HASH_BITS))) / scale)
        label = f"ratio {ratio} (base cap {cap})"
    out = [label]
    for tr, items in fps.items():
        top = rec = 0; read = []
        for track, fp in items:
            c = fingerprint.score_votes(index.votes(fp, cap=cap))
            ok = bool(c) and c[0].key == track
            top += ok; rec += ok and c[0].score >= fingerprint.threshold(fp.seconds)
            read.append(index.postings(fp, cap=cap) * scale)
        out.append(f"{tr} {top}/{len(items)} rec {rec} postings {np.median(read)/1e6:.2f}M")
    print(" | ".join(out), flush=True)
