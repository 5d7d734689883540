"""Impostor sweep: many windows of never-registered audio (10 negative tracks + 3 mixer tracks + espeak speech),
clean and with the -10 dB speech mix applied, against the 20-track catalog, to estimate the impostor score tail
for thresholds. Usage: sweep.py chroma | sweep.py landmark (DENSITY env)."""
import json, os, subprocess, sys, time, resource
import numpy as np
import common as C

method = sys.argv[1]
man = json.load(open(C.DATA + "/manifest.json"))
sp = man["split"]
rng = np.random.default_rng(7)
speech = C.decode(C.DATA + "/speech.wav")
srcs = {n: C.decode(C.path_of(n)) for n in sp["negs"] + sp["mixers"]}
srcs["speech"] = speech

if method == "chroma":
    import chroma_eval as E
    refs = {n: E.fpcalc(C.path_of(n))[0] for n in sp["refs"]}; idx = E.build_index(refs)

    def score(x):
        pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
        out = subprocess.run(["fpcalc", "-raw", "-length", "0", "-json", "-format", "s16le", "-rate", str(C.SR), "-channels", "1", "-"],
                             input=pcm, capture_output=True)
        fp = np.array(json.loads(out.stdout).get("fingerprint", []), dtype=np.uint32)
        b, _ = E.index_match(fp, refs, idx) if len(fp) else ({}, 0)
        s = sorted(b.values(), reverse=True) + [0, 0]
        return s[0], s[1], len(fp)
else:
    import landmark_eval as E
    from scipy.signal import resample_poly
    refs = {n: E.fingerprint(C.decode(C.path_of(n), E.SR)) for n in sp["refs"]}; idx = E.build(refs)

    def score(x):
        h, t = E.fingerprint(resample_poly(x, 1, 2).astype(np.float32))
        b = E.match(h, t, idx)
        s = sorted(b.values(), reverse=True) + [(0, 0), (0, 0)]
        return s[0][0], s[1][0], len(h), max([v[1] for v in b.values()] + [0])

out = []
t0 = time.process_time()
for L, hop in ((8, 4), (30, 10)):
    for n, x in srcs.items():
        for o in range(0, len(x) - L * C.SR, hop * C.SR):
            w = x[o:o + L * C.SR]
            for cond in ("clean", "speech_mix") if n != "speech" else ("clean",):
                y = w if cond == "clean" else C.mix_under(w, speech[rng.integers(0, len(speech) - len(w)):])
                y = C.normalize_peak(y)
                b, s2, nh, *cnt = score(y)
                out.append({"len": L, "src": n, "off": o / C.SR, "cond": cond, "best": b, "second": s2, "n": nh,
                            "best_count": cnt[0] if cnt else None})
cpu = time.process_time() - t0
tag = method if method == "chroma" else f"landmark_d{int(E.DENSITY)}" + (f"_b{E.BANDS}" if E.BANDS > 1 else "")
json.dump(out, open(f"results/sweep_{tag}.json", "w"))
for L in (8, 30):
    v = np.array([r["best"] for r in out if r["len"] == L])
    cn = [r["best_count"] for r in out if r["len"] == L and r["best_count"] is not None]
    if cn: print(f"{tag} len={L}s raw-count max={max(cn)} p99={np.quantile(cn, 0.99):.1f}")
    print(f"{tag} len={L}s windows={len(v)} max={v.max():.3f} p99.9={np.quantile(v, 0.999):.3f} p99={np.quantile(v, 0.99):.3f} median={np.median(v):.3f}")
print("cpu", round(cpu, 1))
