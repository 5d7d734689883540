"""Query-side peak density under -10 dB mixes (issue 15, 2026-12-05): the registered tracks of
``benchmarks.content`` keep their reference fingerprints; every query of that benchmark (its 16
transforms, 30 tracks) and every window of its impostor sweep is decoded once (``build``, cached
in var/cache.pkl), then fingerprinted with query-only peak parameters and scored as the service
scores (``MemoryIndex``, ``score_votes``, ``fingerprint.threshold``). Run from the repository:
``python docs/studies/fingerprint/query_density.py build`` then e.g.
``... mixsweep '{"ppb":100}'`` (modes: all, mix, mixsweep; keys ppb, pb, pf, fan, look, shifts,
m = hits a block needs, dthr = threshold offset)."""
import os, pickle, sys, time, subprocess, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
import numpy as np
from benchmarks import content as C
from governance.content import audio, fingerprint, landmarks as L

CACHE = ROOT / "var" / "cache.pkl"

def build():
    _, registered, negatives = C.split()
    refs = {}
    for name in registered:
        fp = fingerprint.extract(audio.decode((C.MUSIC / f"{name}.ogg").read_bytes()))
        refs[name] = (fp.hashes, fp.times, fp.seconds)
    tracks = {n: C._decode_file(C.MUSIC / f"{n}.ogg") for n in (*registered, *negatives)}
    mixers = [C._decode_file(C.MUSIC / f"{n}.ogg") for n in C.MIXERS]
    with tempfile.TemporaryDirectory() as folder:
        spoken = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "165", "-w", str(spoken), C.SPEECH], check=True)
        speech = C._decode_file(spoken)
    queries = C._queries(tracks, set(registered), mixers, speech)
    qs = []
    for q in queries:
        a = audio.decode(q.data)
        qs.append((q.transform, q.track, q.registered, a.samples.astype(np.float16), a.seconds))
    # sweep windows
    rng = np.random.default_rng(7)
    sources = [*[tracks[n] for n in negatives], *mixers, speech]
    sweep = []
    for length, hop in ((8, 4), (30, 10)):
        for n, x in enumerate(sources):
            for start in range(0, len(x) - length * C.RATE, hop * C.RATE):
                window = x[start : start + length * C.RATE]
                for mixed in (False,) if n == len(sources) - 1 else (False, True):
                    y = window
                    if mixed:
                        at = int(rng.integers(0, len(speech) - len(window)))
                        y = C._under(window, speech[at:])
                    a = audio.decode(C._wav(C._peak(y)))
                    sweep.append((length, a.samples.astype(np.float16), a.seconds))
    CACHE.write_bytes(pickle.dumps((refs, qs, sweep), protocol=5))

def qfp(samples, seconds, v):
    x = samples.astype(np.float32)
    hs, ts = [], []
    for k in range(v.get("shifts", 1)):
        off = k * L.HOP // v.get("shifts", 1)
        spec = L.spectrogram(x[off:])
        b, f = L.peaks(spec, per_block=v["ppb"], neighbourhood=(v["pb"], v["pf"]))
        h, t = L.pairs(b, f, fanout=v["fan"], lookahead=v["look"])
        hs.append(h); ts.append(t)
    key = np.unique((np.concatenate(ts).astype(np.int64) << 22) | np.concatenate(hs))
    h, t = (key & ((1 << 22) - 1)).astype(np.int32), (key >> 22).astype(np.int32)
    return fingerprint.Fingerprint(hashes=h, times=t, seconds=seconds)

def score2(rows, m):
    """best (key, coverage) counting blocks whose merged hits over c-1..c+1 reach m"""
    if not rows: return []
    names = sorted({r[0] for r in rows}); ids = {n: i for i, n in enumerate(names)}
    k = np.array([ids[r[0]] for r in rows]); o = np.array([r[1] for r in rows]); b = np.array([r[2] for r in rows]); h = np.array([r[3] for r in rows])
    kk = np.tile(k, 3); cc = np.concatenate((o + 1, o, o - 1)); bb = np.tile(b, 3); hh = np.tile(h, 3)
    key = (kk * (1 << 40)) + ((cc + (1 << 20)) << 16) + bb
    u, inv = np.unique(key, return_inverse=True)
    s = np.bincount(inv, weights=hh)
    good = s >= m
    kc = u[good] >> 16
    if len(kc) == 0: return []
    u2, cnt = np.unique(kc, return_counts=True)
    kid = u2 >> 24
    best = {}
    for a, c in zip(kid, cnt):
        if c > best.get(a, 0): best[a] = c
    out = sorted(((c, names[a]) for a, c in best.items()), reverse=True)
    return [(n, c) for c, n in out]

def run(v, which=None, sweep_too=True):
    refs, qs, sweep = pickle.loads(CACHE.read_bytes())
    index = fingerprint.MemoryIndex()
    for k, (h, t, s) in refs.items():
        index.add(k, fingerprint.Fingerprint(h, t, s))
    rows = {}
    cpu = 0.0; n = 0; nh = 0
    for tr, track, reg, smp, sec in qs:
        if which and tr not in which:
            continue
        t0 = time.process_time()
        fp = qfp(smp, sec, v)
        rws = index.votes(fp)
        if v.get("m", 1) > 1:
            from types import SimpleNamespace as NS
            cands = [NS(key=a, score=c) for a, c in score2(rws, v["m"])]
        else:
            cands = fingerprint.score_votes(rws)
        cpu += time.process_time() - t0; n += 1; nh += len(fp) / sec
        limit = fingerprint.threshold(sec) + v.get('dthr', 0) if 'thr' not in v else v['thr'](sec)
        best = cands[0] if cands else None
        right = next((c.score for c in cands if c.key == track), 0)
        rows.setdefault(tr, []).append((reg, right, best.score if best else 0, limit, bool(best and best.key == track)))
    out = [f"{v}: {nh/n:.0f} hashes/s, cpu/query {cpu/n*1000:.0f} ms"]
    for tr, res in rows.items():
        pos = [r for r in res if r[0]]; neg = [r for r in res if not r[0]]
        top1 = sum(r[4] for r in pos)
        rec = sum(1 for r in pos if r[4] and r[1] >= r[3])
        fm = sum(1 for r in neg if r[2] >= r[3]) + sum(1 for r in pos if not r[4] and r[2] >= r[3])
        out.append(f"  {tr:18s} top1 {top1}/{len(pos)} recall {rec}/{len(pos)} false {fm} lowest {min(r[1] for r in pos)} negmax {max(r[2] for r in neg)} rights {sorted(r[1] for r in pos)[:6]}")
    if sweep_too:
        for length in (8, 30):
            sc = []
            for l, smp, sec in sweep:
                if l != length: continue
                rws = index.votes(qfp(smp, sec, v))
                if v.get("m", 1) > 1:
                    c = score2(rws, v["m"]); sc.append(c[0][1] if c else 0)
                else:
                    c = fingerprint.score_votes(rws, limit=1); sc.append(c[0].score if c else 0)
            sc = np.asarray(sc)
            out.append(f"  sweep {length}s: n={len(sc)} max {sc.max()} p99.9 {np.quantile(sc,0.999):.1f} >=thr {int((sc>=fingerprint.threshold(length)+v.get('dthr',0)).sum())} hist-top {np.sort(sc)[-5:]}")
    print("\n".join(out), flush=True)

BASE = dict(ppb=50, pb=15, pf=9, fan=6, look=39)
if __name__ == "__main__":
    if sys.argv[1] == "build":
        build()
    else:
        import json
        for arg in sys.argv[2:]:
            v = {**BASE, **json.loads(arg)}
            mode=sys.argv[1]; MIX=["mix_music_-10dB","mix_speech_-10dB"]
            run(v, which=None if mode=="all" else (MIX if mode.startswith("mix") else mode.split(",")), sweep_too=mode in ("all","mixsweep"))
