"""-10 dB mixes with longer queries (90 s): does more audio rescue the mixes? Landmark (DENSITY env) and Chromaprint idx.
Negatives: 90-s windows of the 10 negatives mixed the same way."""
import json, os, subprocess
import numpy as np
from scipy.signal import resample_poly
import common as C, landmark_eval as L, chroma_eval as CH

man = json.load(open(C.DATA + "/manifest.json")); sp = man["split"]
rng = np.random.default_rng(99)
speech = C.decode(C.DATA + "/speech.wav"); mix = {m: C.decode(C.path_of(m)) for m in sp["mixers"]}
refs = {n: L.fingerprint(C.decode(C.path_of(n), L.SR)) for n in sp["refs"]}; idx = L.build(refs)
crefs = {n: CH.fpcalc(C.path_of(n))[0] for n in sp["refs"]}; cidx = CH.build_index(crefs)
LEN = 90 * C.SR
out = []
for role, names in (("pos", sp["refs"]), ("neg", sp["negs"])):
    for n in names:
        x = C.decode(C.path_of(n))
        for bgk in ("music", "speech"):
            o = int(rng.integers(0, max(1, len(x) - LEN))); w = x[o:o + LEN]
            bg = speech if bgk == "speech" else mix[sp["mixers"][rng.integers(3)]]
            y = C.normalize_peak(C.mix_under(w, np.tile(bg, 3)[rng.integers(0, len(bg)):]))
            h, t = L.fingerprint(resample_poly(y, 1, 2).astype(np.float32)); b = L.match(h, t, idx)
            top = max(b, key=lambda k: b[k]) if b else None
            pcm = (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()
            r = subprocess.run(["fpcalc", "-raw", "-length", "0", "-json", "-format", "s16le", "-rate", str(C.SR), "-channels", "1", "-"], input=pcm, capture_output=True)
            fp = np.array(json.loads(r.stdout)["fingerprint"], dtype=np.uint32); cb, _ = CH.index_match(fp, crefs, cidx)
            ctop = max(cb, key=cb.get) if cb else None
            out.append({"role": role, "track": n, "bg": bgk, "lm_top": top, "lm_cov": b[top][0] if top else 0, "lm_count": b[top][1] if top else 0,
                        "ch_top": ctop, "ch_score": cb.get(ctop, 0) if ctop else 0})
json.dump(out, open(f"results/mixlong_d{int(L.DENSITY)}.json", "w"), indent=1)
for bgk in ("music", "speech"):
    P = [r for r in out if r["role"] == "pos" and r["bg"] == bgk]; N = [r for r in out if r["role"] == "neg" and r["bg"] == bgk]
    print(f"90-s -10dB {bgk}: landmark top1 {sum(r['lm_top'] == r['track'] for r in P)}/{len(P)}, correct cov min/median "
          f"{min([r['lm_cov'] for r in P if r['lm_top'] == r['track']] or [0])}/{np.median([r['lm_cov'] for r in P if r['lm_top'] == r['track']] or [0])}, neg cov max {max(r['lm_cov'] for r in N)}; "
          f"chroma top1 {sum(r['ch_top'] == r['track'] for r in P)}/{len(P)}, correct score min {min([r['ch_score'] for r in P if r['ch_top'] == r['track']] or [0]):.3f}, neg max {max(r['ch_score'] for r in N):.3f}")
