"""(a) Chromaprint: fpcalc -raw sub-fingerprints; inverted index on (masked) sub-fingerprint values for candidate
lookup (AcoustID-style), then time-aligned bit-error-rate scoring. Also a brute-force alignment (all refs, all offsets)
to separate candidate-lookup failures from fingerprint failures. Writes results/chroma.json."""
import json, os, resource, subprocess, sys, time
import numpy as np
import common as C

MASK_BITS = int(os.environ.get("MASK_BITS", "28"))  # pg_acoustid's query strip keeps the top 28 bits
POP = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN); return r.ru_utime + r.ru_stime


def fpcalc(path):
    out = subprocess.run(["fpcalc", "-raw", "-length", "0", "-json", path], capture_output=True, text=True)
    d = json.loads(out.stdout)
    return np.array(d.get("fingerprint", []), dtype=np.uint32), float(d["duration"])


def popcount32(a):
    b = a.view(np.uint8)
    return POP[b].reshape(a.shape + (4,)).sum(-1)


def ber_at(q, r, off):
    """BER of q aligned at ref position off (partial overlap allowed)."""
    lo, hi = max(0, -off), min(len(q), len(r) - off)
    if hi - lo < max(8, len(q) // 2): return 1.0, 0
    x = q[lo:hi] ^ r[lo + off:hi + off]
    return float(popcount32(x).sum()) / (32 * (hi - lo)), hi - lo


def brute(q, refs):
    """min BER over all refs and offsets with full/near-full overlap. returns per-ref best score."""
    best = {}
    for n, r in refs.items():
        if len(r) < len(q) // 2: continue
        # sliding xor popcount via stacking: offsets -len(q)//4 .. len(r)-3len(q)/4
        bers = [ber_at(q, r, off)[0] for off in range(-len(q) // 4, len(r) - (3 * len(q)) // 4)]
        best[n] = 1 - min(bers)
    return best


def build_index(refs):
    keys, tr, pos = [], [], []
    names = list(refs)
    for i, n in enumerate(names):
        r = refs[n]
        keys.append(r >> (32 - MASK_BITS)); tr.append(np.full(len(r), i, np.int32)); pos.append(np.arange(len(r), dtype=np.int32))
    k = np.concatenate(keys); o = np.argsort(k, kind="stable")
    return names, k[o], np.concatenate(tr)[o], np.concatenate(pos)[o]


def index_match(q, refs, idx, topk=5):
    names, K, TR, POS = idx
    qk = q >> (32 - MASK_BITS)
    lo = np.searchsorted(K, qk, "left"); hi = np.searchsorted(K, qk, "right")
    cand_t, cand_o = [], []
    for i in range(len(q)):
        if hi[i] > lo[i]:
            cand_t.append(TR[lo[i]:hi[i]]); cand_o.append(POS[lo[i]:hi[i]] - i)
    hits = 0
    if not cand_t: return {}, 0
    t = np.concatenate(cand_t); o = np.concatenate(cand_o); hits = len(t)
    key = t.astype(np.int64) * 100000 + (o + 50000)
    u, c = np.unique(key, return_counts=True)
    best = {}
    for j in np.argsort(-c)[:topk]:
        n = names[int(u[j] // 100000)]; off = int(u[j] % 100000) - 50000
        s = max(1 - ber_at(q, refs[n], off + d)[0] for d in (-1, 0, 1))
        best[n] = max(best.get(n, 0), s)
    return best, hits


def main():
    man = json.load(open(C.DATA + "/manifest.json"))
    refs, ref_cpu, ref_audio = {}, 0.0, 0.0
    for n in man["split"]["refs"]:
        c0 = child_cpu(); fp, d = fpcalc(C.path_of(n)); ref_cpu += child_cpu() - c0; ref_audio += d
        refs[n] = fp
    print(f"refs: {ref_audio:.0f}s audio, fpcalc CPU {ref_cpu:.2f}s -> {ref_audio / ref_cpu:.0f}x RT (OGG decode incl.)", flush=True)
    t0 = time.process_time(); idx = build_index(refs); t_idx = time.process_time() - t0
    res = []
    q_fp_cpu = q_match_cpu = q_audio = 0.0
    for q in man["queries"]:
        c0 = child_cpu(); fp, d = fpcalc(q["file"]); fcpu = child_cpu() - c0
        t0 = time.process_time(); best, hits = index_match(fp, refs, idx); mcpu = time.process_time() - t0
        bb = brute(fp, refs) if len(fp) and os.environ.get("BRUTE", "1") == "1" else {}
        q_fp_cpu += fcpu; q_match_cpu += mcpu; q_audio += q["dur_s"]
        def top(b):
            if not b: return None, 0.0, 0.0
            s = sorted(b.items(), key=lambda kv: -kv[1]); return s[0][0], s[0][1], (s[1][1] if len(s) > 1 else 0.0)
        a, sa, sa2 = top(best); b_, sb, sb2 = top(bb)
        res.append({**q, "n_subfp": int(len(fp)), "idx_hits": int(hits), "idx_top": a, "idx_score": sa, "idx_second": sa2,
                    "brute_top": b_, "brute_score": sb, "brute_second": sb2, "fp_cpu": fcpu, "match_cpu": mcpu})
    speed = {"ref_audio_s": ref_audio, "ref_fpcalc_cpu_s": ref_cpu, "index_build_cpu_s": t_idx,
             "query_audio_s": q_audio, "query_fpcalc_cpu_s": q_fp_cpu, "query_index_match_cpu_s": q_match_cpu,
             "mask_bits": MASK_BITS, "n_ref_subfp": int(sum(len(r) for r in refs.values()))}
    print(json.dumps(speed, indent=1))
    json.dump({"speed": speed, "results": res}, open(f"results/chroma_m{MASK_BITS}.json", "w"), indent=1)


if __name__ == "__main__":
    main()
