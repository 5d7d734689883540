"""(b) numpy landmark fingerprint (audfprint/Shazam-style): STFT peaks -> anchor/target pair hashes
(f1, df, dt) packed in 20 bits; sorted-array inverted index hash -> (track, t); offset-histogram voting.
Writes results/landmark.json."""
import json, os, time
import numpy as np
from scipy import signal
from scipy.ndimage import maximum_filter, uniform_filter1d
import soundfile as sf
import common as C

SR = 11025; NFFT = 512; HOP = 256           # 23.2 ms frames, 21.5 Hz bins
DENSITY = float(os.environ.get("DENSITY", "25"))   # peaks per second kept
FANOUT = int(os.environ.get("FANOUT", "6")); DTMAX = 63; DFMAX = 31
BANDS = int(os.environ.get("BANDS", "1"))  # >1: split the 255 bins into equal bands with equal peak quotas
FPS = SR / HOP


def peaks(x):
    f, t, Z = signal.stft(x, SR, nperseg=NFFT, noverlap=NFFT - HOP, boundary=None, padded=False)
    S = np.log(np.abs(Z[1:256]) + 1e-6).astype(np.float32)   # 255 bins x frames
    # whiten: subtract per-bin running mean over ~3 s (removes EQ / channel colouring), then local maxima
    S = S - uniform_filter1d(S, size=129, axis=1, mode="nearest")
    M = maximum_filter(S, size=(15, 9), mode="constant", cval=-np.inf)
    fi, ti = np.nonzero((S == M) & (S > 0))
    v = S[fi, ti]
    # keep the strongest peaks per 1-s block to reach the target density
    blk = (ti // int(FPS)).astype(np.int64)
    if BANDS > 1:  # per-band quotas: a loud foreground in one band cannot take every peak slot
        blk = blk * BANDS + np.minimum(fi * BANDS // 255, BANDS - 1)
    order = np.lexsort((-v, blk))
    fi, ti, v, blk = fi[order], ti[order], v[order], blk[order]
    start = np.searchsorted(blk, blk, "left"); rank = np.arange(len(blk)) - start
    keep = rank < DENSITY / BANDS
    fi, ti = fi[keep], ti[keep]
    o = np.lexsort((fi, ti))
    return fi[o].astype(np.int32) + 1, ti[o].astype(np.int32)


def hashes(fi, ti):
    """each peak pairs with up to FANOUT later peaks within dt 1..63 frames, |df| <= 31 bins."""
    H, T = [], []
    n = len(ti)
    for k in range(1, 40):  # look ahead over next peaks in time order
        if k >= n: break
        dt = ti[k:] - ti[:-k]; df = fi[k:] - fi[:-k]
        ok = (dt >= 1) & (dt <= DTMAX) & (np.abs(df) <= DFMAX)
        H.append(np.where(ok, (fi[:-k] << 12) | ((df + 32) << 6) | dt, -1)); T.append(ti[:-k])
    if not H: return np.zeros(0, np.int32), np.zeros(0, np.int32)
    H = np.stack([np.pad(h, (0, n - len(h)), constant_values=-1) for h in H], 1)  # n x K
    T = ti
    valid = H >= 0
    cum = np.cumsum(valid, 1)
    sel = valid & (cum <= FANOUT)
    rows, cols = np.nonzero(sel)
    return H[rows, cols].astype(np.int32), T[rows].astype(np.int32)


def fingerprint(x):
    fi, ti = peaks(x); return hashes(fi, ti)


def build(refs):
    names = list(refs); Hs, Ts, Rs = [], [], []
    for i, n in enumerate(names):
        h, t = refs[n]; Hs.append(h); Ts.append(t); Rs.append(np.full(len(h), i, np.int32))
    H = np.concatenate(Hs); o = np.argsort(H, kind="stable")
    return names, H[o], np.concatenate(Ts)[o], np.concatenate(Rs)[o]


def match(h, t, idx):
    names, H, T, R = idx
    lo = np.searchsorted(H, h, "left"); hi = np.searchsorted(H, h, "right")
    cnt = hi - lo
    if cnt.sum() == 0: return {}
    rep = np.repeat(np.arange(len(h)), cnt)
    pos = np.concatenate([np.arange(a, b) for a, b in zip(lo[cnt > 0], hi[cnt > 0])])
    off = T[pos] - t[rep]; tr = R[pos]
    key = tr.astype(np.int64) * 200000 + (off + 100000)
    u, c = np.unique(key, return_counts=True)
    best = {}
    # For the strongest offset bins: count = hashes in bin +/-1 (tolerates 1-frame jitter);
    # coverage = number of distinct 1-s blocks of the query that contribute to that bin. Chance / shared-motif
    # coincidences between different pieces cluster in ~1 s; a real match is spread over the whole query.
    tq = t[rep] // int(FPS)
    for j in np.argsort(-c)[:20]:
        k = u[j]
        m = (key >= k - 1) & (key <= k + 1)
        cnt = int(m.sum()); cov = int(np.unique(tq[m]).size)
        n = names[int(k // 200000)]
        if (cov, cnt) > best.get(n, (0, 0)): best[n] = (cov, cnt)
    return best


def main():
    man = json.load(open(C.DATA + "/manifest.json"))
    refs = {}; ref_audio = 0.0
    t0 = time.process_time()
    for n in man["split"]["refs"]:
        x = C.decode(C.path_of(n), SR); ref_audio += len(x) / SR
        refs[n] = fingerprint(x)
    ref_cpu = time.process_time() - t0
    t0 = time.process_time(); idx = build(refs); t_idx = time.process_time() - t0
    n_hash = int(len(idx[1]))
    print(f"refs {ref_audio:.0f}s, CPU {ref_cpu:.1f}s ({ref_audio / ref_cpu:.0f}x RT incl. OGG decode), {n_hash} hashes "
          f"({n_hash / ref_audio:.0f}/s)", flush=True)
    res = []; fcpu_t = mcpu_t = dcpu_t = aud = 0.0
    for q in man["queries"]:
        t0 = time.process_time(); x = C.decode(q["file"], SR); t1 = time.process_time()
        h, t = fingerprint(x); t2 = time.process_time(); best = match(h, t, idx); t3 = time.process_time()
        dcpu_t += t1 - t0; fcpu_t += t2 - t1; mcpu_t += t3 - t2; aud += q["dur_s"]
        s = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
        res.append({**q, "n_hashes": int(len(h)), "top": s[0][0] if s else None, "score": s[0][1][0] if s else 0,
                    "count": s[0][1][1] if s else 0, "second": s[1][1][0] if len(s) > 1 else 0,
                    "top_by_count": max(best, key=lambda n: best[n][1]) if best else None,
                    "score_count": max(v[1] for v in best.values()) if best else 0})
    speed = {"ref_audio_s": ref_audio, "ref_decode_fp_cpu_s": ref_cpu, "index_build_cpu_s": t_idx, "n_ref_hashes": n_hash,
             "query_audio_s": aud, "query_decode_cpu_s": dcpu_t, "query_fp_cpu_s": fcpu_t, "query_match_cpu_s": mcpu_t,
             "density": DENSITY, "fanout": FANOUT, "bands": BANDS}
    print(json.dumps(speed, indent=1))
    json.dump({"speed": speed, "results": res}, open(f"results/landmark_d{int(DENSITY)}_f{FANOUT}{'_b%d' % BANDS if BANDS > 1 else ''}.json", "w"), indent=1)


if __name__ == "__main__":
    main()
