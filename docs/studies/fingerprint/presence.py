"""Constellation presence verification under -10 dB mixes (issue 15, 2026-12-05).

Hypothesis: a hash needs both peaks of a pair among the query's 50 strongest a second, so
under a -10 dB mix few hashes agree (1 and 4 of 30 blocks for the hard queries, at their true
offsets: ``verified_offset.py oracle d50``). The reference's landmark *peaks* can be rebuilt
from the stored pairs (anchor (t, f1), target (t + dt, f1 + df); hash layout of
``governance.content.landmarks``), and a single peak needs no partner. For a candidate
(reference, offset), count the reference's peaks inside the query's span that are *present*
in the query: a local maximum of the query's whitened spectrogram (``landmarks.spectrogram``)
over a SMALL neighbourhood (bins x frames, above the bin's mean), at that bin and within
+/-``tol`` frames. Normalised for chance with the query map's density p in each bin:
``z = (observed - sum p) / sqrt(sum p (1 - p))`` over the reference's peaks in the window
(the raw fraction observed / peaks is also kept). Pooling ~1,500 reference peaks per 30 s,
its chance level should be sharply concentrated.

Candidates: (a) ``hash:K:N``: the top K references by today's coverage (ties by hits), for
each its top N offsets by hash coverage (offsets +/-1 merged, a centre within 2 frames of a
better one dropped), the reference's score its best z there; (b) ``scan:K``: for each top-K
reference, every offset where the query lies inside it, scored by bin-wise correlation of
the reference's peaks with the query's maxima (votes at reference frame - query frame for
equal bins, ``np.bincount``, summed over +/-``tol`` frames), its 3 best offsets (2 frames
apart at least) rescored exactly; the reference's score is their best z. The decision: the
reference of highest score (ties by today's coverage, then hits), a match if the score
reaches the threshold: the sweep's maximum (8- and 30-s windows together) plus ``MARGIN``.
``or:<scheme>``: today's decision where today's coverage reaches today's threshold, else the
scheme's. Map ``n3x3c``: the hash candidates (and the top K) from the hits of a denser query
(``verified_offset.DENSITIES["d100s4"]``: 100 peaks a block, 4 hop alignments) instead of
today's; today's coverage still decides the ``or`` part.

Data: the caches of ``query_density.py build`` (var/cache.pkl; var/cache_seed2.pkl for the
second draw, ``TAG=seed2`` as in ``verified_offset.py``): the references' fingerprints as the
service computes them, the benchmark's 480 decoded queries, the 1,344 sweep windows.

Run from the repository, after the builds:

- ``python docs/studies/fingerprint/presence.py check``: the rebuilt peaks against the peaks
  of two decoded references;
- ``... oracle n3x3 n5x3``: z and fraction of the right reference at each registered mix
  query's TRUE offset (the benchmark's starts replayed, ``verified_offset.starts``), the best
  z over every offset of the 19 wrong references and over the right one's other offsets, and
  the rank of the true offset among the right reference's hash-coverage offsets;
- ``... run n3x3`` (var/presence_<map><TAG>.pkl; ``NOSWEEP=1`` skips the sweep, whose
  threshold is then the untagged run's), ``... report n3x3`` (every scheme; SCHEMES=a,b to choose),
  ``... sum n3x3/scan:20 n3x3c/or:hash:10:20`` and ``... md n3x3/or:scan:20 ...`` (the tables
  of docs/matching.md: one row per (map, scheme); per transform), ``... cpu n3x3`` (CPU per
  query by step), ``... size n3x3`` (the query map's bytes a second, as a client would send
  it). For the second draw's oracle, set ``BENCH_CONTENT_SEED=2`` as well as ``TAG=seed2``
  (the starts are replayed from the benchmark's seed).
"""

import os
import pickle
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import query_density as QD
import verified_offset as VO  # puts the repository on sys.path, chdir to it

from governance.content import audio, fingerprint
from governance.content import landmarks as L

TAG = VO.TAG
CACHE = VO.CACHE
ROOT = VO.ROOT
MIX = VO.MIX
MARGIN = 0.5  # z above the sweep's maximum
NCAND = 20  # hash-coverage offsets kept per reference
NSCAN = 3  # scan offsets rescored exactly per reference
KSCAN = 20  # references scanned (the top KSCAN by today's coverage)

# query maps: local maxima over nb bins x nf frames, above the bin's mean; present = within
# +/- tol frames, same bin
MAPS = {
    "n3x3": dict(nb=3, nf=3, tol=1),
    "n5x3": dict(nb=5, nf=3, tol=1),
    "n3x5": dict(nb=3, nf=5, tol=1),
    "n3x3t0": dict(nb=3, nf=3, tol=0),
    # the same map, the hash candidates (and the top K) from a denser query's hits
    # (verified_offset.DENSITIES): 100 peaks a block and 4 hop alignments
    "n3x3c": dict(nb=3, nf=3, tol=1, cand="d100s4"),
}


def unpickle(path):
    """This study's own caches and results (var/), never received data."""
    return pickle.loads(path.read_bytes())  # noqa: S301


def ref_peaks(hashes, times):
    """The peaks (bins 1-255, frames) named by stored pairs, sorted by frame then bin."""
    h = np.asarray(hashes, np.int64)
    t = np.asarray(times, np.int64)
    f1 = h >> (L.DF_BITS + L.DT_BITS)
    df = ((h >> L.DT_BITS) & ((1 << L.DF_BITS) - 1)) - (L.DF_MAX + 1)
    dt = h & ((1 << L.DT_BITS) - 1)
    key = np.unique(np.concatenate((t, t + dt)) * 256 + np.concatenate((f1, f1 + df)))
    return key % 256, key // 256


def frames_of(seconds):
    return int((seconds * audio.SAMPLE_RATE - L.N_FFT) // L.HOP) + 1


class Refs:
    """Each reference's rebuilt peaks: by frame (exact scores) and by bin (the scan)."""

    def __init__(self, refs):
        self.keys = list(refs)
        self.by_frame, self.by_bin, self.n = [], [], []
        for k in self.keys:
            h, t, s = refs[k]
            b, f = ref_peaks(h, t)
            self.by_frame.append((b, f))
            order = np.lexsort((f, b))
            ptr = np.searchsorted(b[order], np.arange(257))
            self.by_bin.append((f[order], ptr))
            self.n.append(max(frames_of(s), int(f.max()) + 1))

    def exact(self, r, offsets, dmap, p, q):
        """(observed, expected, variance, peaks) at each offset (query frame 0 = ref frame o)."""
        b, f = self.by_frame[r]
        nq = dmap.shape[1]
        out = np.zeros((len(offsets), 4))
        for i, o in enumerate(offsets):
            lo, hi = np.searchsorted(f, [o, o + nq])
            bb, ff = b[lo:hi] - 1, f[lo:hi] - o
            out[i] = (dmap[bb, ff].sum(), p[bb].sum(), q[bb].sum(), hi - lo)
        return out

    def scan(self, r, rows, cols, nq, tol, p, q):
        """Approximate z at every offset 0 .. n - nq (votes of equal-bin (ref peak, query
        maximum) pairs summed over +/-tol frames: the exact count when maxima in a bin are
        more than 2 tol frames apart, else an upper bound)."""
        ft, ptr = self.by_bin[r]
        n = self.n[r]
        if n < nq:
            return np.zeros(0), np.zeros(0, np.int64)
        lo = ptr[rows + 1]
        cnt = ptr[rows + 2] - lo
        total = int(cnt.sum())
        start = np.cumsum(cnt) - cnt
        pos = np.repeat(lo - start, cnt) + np.arange(total)
        v = np.bincount(ft[pos] - np.repeat(cols, cnt) + nq, minlength=n + nq + 1)
        cv = np.concatenate(([0], np.cumsum(v)))
        o = np.arange(0, n - nq + 1)
        a, bnd = o + nq - tol, o + nq + tol + 1
        obs = cv[np.minimum(bnd, len(v))] - cv[np.maximum(a, 0)]
        b, f = self.by_frame[r]
        cp = np.concatenate(([0.0], np.cumsum(p[b - 1])))
        cq = np.concatenate(([0.0], np.cumsum(q[b - 1])))
        i0, i1 = np.searchsorted(f, o), np.searchsorted(f, o + nq)
        e, var = cp[i1] - cp[i0], cq[i1] - cq[i0]
        return (obs - e) / np.sqrt(np.maximum(var, 1e-9)), o


def qmap(spec, nb, nf, tol):
    """The query's maxima (bool, bins x frames) and the same dilated by +/-tol frames."""
    local = L._running_max(L._running_max(spec, nb, axis=0), nf, axis=1)
    m = (spec == local) & (spec > 0)
    d = m.copy()
    for k in range(1, tol + 1):
        d[:, k:] |= m[:, :-k]
        d[:, :-k] |= m[:, k:]
    return m, d


def zscore(st):
    return (st[:, 0] - st[:, 1]) / np.sqrt(np.maximum(st[:, 2], 1e-9))


def nms(offsets, k, gap=2):
    """The first k of ``offsets`` (in rank order) none within ``gap`` of an earlier kept one."""
    kept = []
    for o in offsets:
        if all(abs(o - x) > gap for x in kept):
            kept.append(int(o))
            if len(kept) == k:
                break
    return kept


def analyse(samples, seconds, refs, index, mp, scan=True):
    """One query: today's coverage per reference, its hash candidates' and scan's z."""
    nref = len(refs.keys)
    cpu = {}
    t0 = time.process_time()
    x = samples.astype(np.float32)
    spec = L.spectrogram(x)
    b, f = L.peaks(spec)
    h, t = L.pairs(b, f)
    key = np.unique((t.astype(np.int64) << 22) | h)
    fp = fingerprint.Fingerprint(
        hashes=(key & ((1 << 22) - 1)).astype(np.int32),
        times=(key >> 22).astype(np.int32),
        seconds=seconds,
    )
    hits = index.hits(fp)
    o, off, blk = hits["owner"], hits["offset"], hits["block"]
    k, c = VO.coverage(o, off, blk)
    oc = o * (1 << 24) + off + VO.OFF
    kh, nh = np.unique(np.concatenate((oc + 1, oc, oc - 1)), return_counts=True)
    nhits = nh[np.searchsorted(kh, k)] if len(k) else np.zeros(0, np.int64)
    cov = VO.per_owner_best(k, c, nref)
    tb = VO.per_owner_best(k, c * (1 << 20) + nhits, nref)
    cpu["fp"] = time.process_time() - t0

    t0 = time.process_time()
    m, dmap = qmap(spec, mp["nb"], mp["nf"], mp["tol"])
    p = dmap.mean(axis=1)
    q = p * (1 - p)
    nq = spec.shape[1]
    cpu["map"] = time.process_time() - t0

    # (a) hash candidates: per reference, centres by (coverage, hits), suppressed, top NCAND
    t0 = time.process_time()
    ctb = tb
    if mp.get("cand"):  # candidates from a denser query's hits
        hits = index.hits(QD.qfp(samples, seconds, VO.DENSITIES[mp["cand"]]))
        o, off, blk = hits["owner"], hits["offset"], hits["block"]
        k, c = VO.coverage(o, off, blk)
        oc = o * (1 << 24) + off + VO.OFF
        kh, nh = np.unique(np.concatenate((oc + 1, oc, oc - 1)), return_counts=True)
        nhits = nh[np.searchsorted(kh, k)] if len(k) else np.zeros(0, np.int64)
        ctb = VO.per_owner_best(k, c * (1 << 20) + nhits, nref)
    hz = np.full((nref, NCAND), np.nan)
    hfrac = np.full((nref, NCAND), np.nan)
    hoff = np.full((nref, NCAND), -1, np.int64)
    owner = k >> 24
    centre = (k & ((1 << 24) - 1)) - VO.OFF
    order = np.lexsort((-nhits, -c, owner))
    bounds = np.searchsorted(owner[order], np.arange(nref + 1))
    for r in range(nref):
        ranked = centre[order[bounds[r] : bounds[r + 1]]]
        ranked = ranked[(ranked >= 0) & (ranked <= refs.n[r] - nq)]
        cand = nms(ranked, NCAND)
        if not cand:
            continue
        st = refs.exact(r, cand, dmap, p, q)
        hz[r, : len(cand)] = zscore(st)
        hfrac[r, : len(cand)] = st[:, 0] / np.maximum(st[:, 3], 1)
        hoff[r, : len(cand)] = cand
    cpu["a"] = time.process_time() - t0

    # (b) full offset scan of the top KSCAN references by today's coverage
    sz = np.full(nref, np.nan)
    soff = np.full(nref, -1, np.int64)
    sfrac = np.full(nref, np.nan)
    t0 = time.process_time()
    if scan:
        rows, cols = np.nonzero(m)
        for r in np.argsort(-ctb, kind="stable")[:KSCAN]:
            z, offs = refs.scan(r, rows, cols, nq, mp["tol"], p, q)
            if len(z) == 0:
                continue
            best = nms(offs[np.argsort(-z, kind="stable")[: 20 * NSCAN]], NSCAN)
            st = refs.exact(r, best, dmap, p, q)
            zz = zscore(st)
            i = int(np.argmax(zz))
            sz[r], soff[r], sfrac[r] = zz[i], best[i], st[i, 0] / max(st[i, 3], 1)
    cpu["b"] = time.process_time() - t0
    return dict(
        cov=cov,
        tb=tb,
        ctb=ctb,
        hz=hz,
        hfrac=hfrac,
        hoff=hoff,
        sz=sz,
        soff=soff,
        sfrac=sfrac,
        cpu=cpu,
        points=int(m.sum()),
        nq=nq,
    )


def load():
    refs, qs, sweep = unpickle(CACHE)
    return Refs(refs), VO.Index(refs), qs, sweep


def check():
    """The rebuilt peaks against the peaks of the decoded references (the first two)."""
    from benchmarks import content as C

    refs, _, _, _ = load()
    for r, name in enumerate(refs.keys[:2]):
        a = audio.decode((C.MUSIC / f"{name}.ogg").read_bytes())
        b, f = L.peaks(L.spectrogram(a.samples))
        true = set(zip(b.tolist(), f.tolist(), strict=True))
        rb, rf = refs.by_frame[r]
        rebuilt = set(zip(rb.tolist(), rf.tolist(), strict=True))
        print(
            f"{name}: {len(true)} peaks decoded, {len(rebuilt)} rebuilt, "
            f"{len(true & rebuilt)} common, {len(rebuilt - true)} rebuilt only"
        )


def oracle(names):
    st = VO.starts()
    refs, index, qs, _ = load()
    for name in names:
        mp = MAPS[name]
        print(f"## oracle {name} {mp}{' ' + TAG if TAG else ''}")
        print(
            "  transform track: z_true frac_true (obs/n, exp) | best wrong ref z (ref) | "
            "right ref other offsets z | true offset's rank among hash offsets | cov"
        )
        for tr, track, reg, smp, sec in qs:
            if not (reg and tr in ("clean30", *MIX)):
                continue
            true = round(st[(tr, track)] / 2 / L.HOP)
            r = refs.keys.index(track)
            res = analyse(smp, sec, refs, index, mp, scan=False)
            m, dmap = qmap(L.spectrogram(smp.astype(np.float32)), mp["nb"], mp["nf"], mp["tol"])
            p = dmap.mean(axis=1)
            q = p * (1 - p)
            near = [o for o in range(true - 2, true + 3) if 0 <= o <= refs.n[r] - m.shape[1]]
            ex = refs.exact(r, near, dmap, p, q)
            zt = zscore(ex)
            i = int(np.argmax(zt))
            rows, cols = np.nonzero(m)
            wrong, wname, other = -np.inf, "", -np.inf
            for j in range(len(refs.keys)):
                z, offs = refs.scan(j, rows, cols, m.shape[1], mp["tol"], p, q)
                if len(z) == 0:
                    continue
                if j == r:
                    far = np.abs(offs - true) > 3
                    other = max(other, float(z[far].max()))
                elif z.max() > wrong:
                    wrong, wname = float(z.max()), refs.keys[j]
            hoff = res["hoff"][r]
            rank = next((n for n, o in enumerate(hoff) if o >= 0 and abs(o - true) <= 2), None)
            print(
                f"  {tr[:9]} {track[:22]:22s} z {zt[i]:6.1f} frac {ex[i, 0] / ex[i, 3]:.3f} "
                f"({int(ex[i, 0])}/{int(ex[i, 3])}, exp {ex[i, 1]:.0f}) | wrong {wrong:5.1f} "
                f"({wname[:14]}) | other {other:5.1f} | rank "
                f"{'-' if rank is None else rank + 1} | cov {res['cov'][r]}",
                flush=True,
            )


def run(names):
    refs, index, qs, sweep = load()
    for name in names:
        mp = MAPS[name]
        t0 = time.process_time()
        res_q = [
            (tr, track, reg, sec, analyse(smp, sec, refs, index, mp))
            for tr, track, reg, smp, sec in qs
        ]
        res_s = [
            (length, sec, analyse(smp, sec, refs, index, mp))
            for length, smp, sec in ([] if os.environ.get("NOSWEEP") else sweep)
        ]
        cpu = time.process_time() - t0
        out = ROOT / "var" / f"presence_{name}{TAG}.pkl"
        out.write_bytes(pickle.dumps((refs.keys, mp, cpu, res_q, res_s)))
        print(f"{name}: {cpu:.0f} s CPU, {len(res_q)} queries, {len(res_s)} windows", flush=True)


def _load(name):
    keys, mp, cpu, res_q, res_s = unpickle(ROOT / "var" / f"presence_{name}{TAG}.pkl")
    if not res_s:
        res_s = unpickle(ROOT / "var" / f"presence_{name}.pkl")[4]
    return keys, mp, cpu, res_q, res_s


def score(res, scheme):
    """Per-reference scores of a scheme (-inf where a reference is not a candidate)."""
    kind, *args = scheme.split(":")
    nref = len(res["cov"])
    out = np.full(nref, -np.inf)
    if kind == "cov":
        return res["cov"].astype(float)
    top = np.argsort(-res.get("ctb", res["tb"]), kind="stable")
    if kind == "hash":
        kk, nn = int(args[0]), int(args[1])
        sel = top[:kk]
        z = res["hz"][sel, :nn]
        z = np.where(np.isnan(z), -np.inf, z)
        out[sel] = z.max(axis=1)
    elif kind == "scan":
        sel = top[: int(args[0])]
        out[sel] = np.where(np.isnan(res["sz"][sel]), -np.inf, res["sz"][sel])
    elif kind == "both":  # the hash candidates and the scan's together
        kk = int(args[0])
        return np.maximum(score(res, f"hash:{kk}:{NCAND}"), score(res, f"scan:{kk}"))
    return out


def best_of(res, scheme):
    s = score(res, scheme)
    i = int(np.lexsort((res["tb"], s))[-1])
    return i, float(s[i])


def threshold(res_s, scheme):
    """(sweep max 8 s, sweep max 30 s, threshold)."""
    mx = {8: -np.inf, 30: -np.inf}
    for length, _, res in res_s:
        mx[length] = max(mx[length], best_of(res, scheme)[1])
    if scheme == "cov":
        return mx[8], mx[30], None
    return mx[8], mx[30], max(mx.values()) + MARGIN


def evaluate(keys, res_q, res_s, scheme):
    """Per transform: top-1, recall at the threshold, false matches, lowest right score,
    highest negative score. ``or:<scheme>``: today's decision where today's coverage reaches
    today's threshold, else the scheme's (its scores and threshold are the ones shown)."""
    either = scheme.startswith("or:")
    scheme = scheme.removeprefix("or:")
    m8, m30, thr = threshold(res_s, scheme)
    limit = fingerprint.threshold if thr is None else (lambda s: thr)
    rows = {}
    for tr, track, reg, sec, res in res_q:
        i, s = best_of(res, scheme)
        sc = score(res, scheme)
        right = float(sc[keys.index(track)]) if reg else -np.inf
        ok = reg and s > -np.inf and keys[i] == track
        lim = limit(sec)
        if either:
            j, c = best_of(res, "cov")
            if c >= fingerprint.threshold(sec):  # today's match stands: shown as passing
                ok, s, lim = reg and keys[j] == track, np.inf, 0
                right = np.inf if ok else right
        rows.setdefault(tr, []).append((reg, ok, right, s, lim))
    return VO.tabulate(rows), (m8, m30, thr)


SCHEMES = [
    "cov",
    *(f"hash:{k}:{n}" for k in (5, 10, 20) for n in (1, 5, 20)),
    *(f"scan:{k}" for k in (5, 10, 20)),
    *(f"both:{k}" for k in (5, 20)),
    "or:hash:20:20",
    "or:scan:20",
]


def _f(x):
    return (
        "cov"
        if x == np.inf
        else "-inf"
        if x == -np.inf
        else (f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}")
    )


def report(names, schemes=None):
    for name in names:
        keys, mp, cpu, res_q, res_s = _load(name)
        print(
            f"## {name} {mp}{' ' + TAG if TAG else ''}: {cpu:.0f} s CPU, "
            f"{len(res_q)} queries, {len(res_s)} windows"
        )
        for scheme in schemes or SCHEMES:
            t, (m8, m30, thr) = evaluate(keys, res_q, res_s, scheme)
            others = [r for tr, r in t.items() if tr not in MIX]
            cell = "; ".join(
                f"{tr[4:9]} {t[tr]['top1']}/{t[tr]['recall']}/{t[tr]['false']}/"
                f"{_f(t[tr]['low'])}/{_f(t[tr]['negmax'])}"
                for tr in MIX
            )
            print(
                f"  {scheme:12s} sweep {_f(m8)}/{_f(m30)} thr {_f(thr) if thr else 'svc'} | "
                f"{cell} | others {sum(r['top1'] for r in others)}/280 "
                f"rec>={min(r['recall'] for r in others)} false {sum(r['false'] for r in others)}"
                f" | all {sum(r['top1'] for r in t.values())}/320",
                flush=True,
            )
        c = {
            k: np.mean([r[4]["cpu"][k] for r in res_q if r[3] > 20])
            for k in ("fp", "map", "a", "b")
        }
        print("  CPU per 30-s query (s): " + ", ".join(f"{k} {v:.3f}" for k, v in c.items()))


def markdown(pairs):
    """Per transform, one column per (map, scheme)."""
    data = []
    for name, scheme in pairs:
        keys, _, _, res_q, res_s = _load(name)
        data.append((f"{name} {scheme}", *evaluate(keys, res_q, res_s, scheme)))
    print(
        "| transform | "
        + " | ".join(f"{s}: top-1, recall, false, lowest right, highest negative" for s, *_ in data)
        + " |"
    )
    print("|---|" + "---|" * len(data))
    for tr in data[0][1]:
        print(
            f"| {tr} | "
            + " | ".join(
                f"{t[tr]['top1']}/20, {t[tr]['recall']}/20, {t[tr]['false']}, {_f(t[tr]['low'])}, "
                f"{_f(t[tr]['negmax'])}"
                for _, t, _ in data
            )
            + " |"
        )
    print(
        "| sweep max 8 s / 30 s (threshold) | "
        + " | ".join(
            f"{_f(m8)} / {_f(m30)} ({_f(thr) if thr else '7 / 9'})" for _, _, (m8, m30, thr) in data
        )
        + " |"
    )


def summary(pairs):
    """One markdown row per (map, scheme): the summary table of docs/matching.md."""
    print(
        "| map | scheme | sweep max 8 s / 30 s (threshold) | music mix: top-1, recall, false,"
        " lowest right, highest negative | speech mix: the same | 14 other transforms: top-1,"
        " lowest recall, false | all: top-1, false |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, scheme in pairs:
        keys, _, _, res_q, res_s = _load(name)
        t, (m8, m30, thr) = evaluate(keys, res_q, res_s, scheme)
        others = [r for tr, r in t.items() if tr not in MIX]

        def cell(r):
            return (
                f"{r['top1']}/20, {r['recall']}/20, {r['false']}, {_f(r['low'])}, {_f(r['negmax'])}"
            )

        print(
            f"| {name} | {scheme} | {_f(m8)} / {_f(m30)} ({_f(thr) if thr else '7 / 9'}) | "
            f"{cell(t[MIX[0]])} | {cell(t[MIX[1]])} | "
            f"{sum(r['top1'] for r in others)}/280, {min(r['recall'] for r in others)}/20, "
            f"{sum(r['false'] for r in others)} | {sum(r['top1'] for r in t.values())}/320, "
            f"{sum(r['false'] for r in t.values())} |"
        )


def cpu(names):
    """Mean CPU seconds per query by step, the 30-s queries and the 8-s ones (crop8)."""
    for name in names:
        _, _, total, res_q, _ = _load(name)
        for label, rs in (
            ("30 s", [r[4] for r in res_q if r[3] > 20]),
            ("8 s", [r[4] for r in res_q if r[3] < 10]),
        ):
            c = {k: np.mean([r["cpu"][k] for r in rs]) for k in ("fp", "map", "a", "b")}
            pts = np.mean([r["points"] / r["nq"] * L.FRAMES_PER_BLOCK for r in rs])
            print(
                f"{name}{TAG} {label} ({len(rs)}): "
                + ", ".join(f"{k} {v:.4f}" for k, v in c.items())
                + f"; maxima {pts:.0f} a second; run total {total:.0f} s"
            )


def ranks(names):
    """The mix queries whose right reference is not first by today's coverage: its rank by
    today's coverage and by the candidates' (the denser query's for n3x3c), its scan z."""
    for name in names:
        keys, _, _, res_q, _ = _load(name)
        for tr, track, reg, _, res in res_q:
            r = keys.index(track) if reg else -1
            if tr not in MIX or not reg or int(np.argmax(res["tb"])) == r:
                continue
            by = {k: 1 + int((res[k] > res[k][r]).sum()) for k in ("tb", "ctb")}
            print(
                f"{name}{TAG} {tr} {track}: rank by today's coverage {by['tb']} (coverage "
                f"{res['cov'][r]}), by the candidates' {by['ctb']}; scan z {res['sz'][r]:.1f}"
            )


def size(name):
    """The query map's bytes a second: raw bitmap, zlib'd bitmap, gap list (1 byte a gap,
    255 escapes), zlib'd gap list; over the 30-s queries."""
    mp = MAPS[name]
    _, qs, _ = unpickle(CACHE)[:3]
    tot = dict(seconds=0.0, points=0, raw=0, zbit=0, gaps=0, zgaps=0)
    for _, _, _, smp, sec in qs:
        if sec < 20:
            continue
        m, _ = qmap(L.spectrogram(smp.astype(np.float32)), mp["nb"], mp["nf"], mp["tol"])
        bits = np.packbits(m.T)  # frame-major
        lin = np.flatnonzero(m.T)
        gaps = np.diff(np.concatenate(([-1], lin)))
        g = np.array([b for x in gaps for b in [255] * (int(x) // 255) + [int(x) % 255]], np.uint8)
        tot["seconds"] += sec
        tot["points"] += len(lin)
        tot["raw"] += len(bits)
        tot["zbit"] += len(zlib.compress(bits.tobytes(), 9))
        tot["gaps"] += len(g)
        tot["zgaps"] += len(zlib.compress(g.tobytes(), 9))
    s = tot.pop("seconds")
    print(f"{name}: " + ", ".join(f"{k} {v / s:.0f}/s" for k, v in tot.items()))


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "check":
        check()
    elif mode == "oracle":
        oracle(rest)
    elif mode == "run":
        run(rest)
    elif mode == "md":
        markdown([tuple(a.split("/", 1)) for a in rest])
    elif mode == "sum":
        summary([tuple(a.split("/", 1)) for a in rest])
    elif mode == "rank":
        ranks(rest)
    elif mode == "cpu":
        cpu(rest)
    elif mode == "size":
        size(rest[0])
    else:
        sc = os.environ.get("SCHEMES")
        report(rest, sc.split(",") if sc else None)
