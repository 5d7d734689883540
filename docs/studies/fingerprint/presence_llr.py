"""Weighted presence statistics under -10 dB mixes (issue 15, 2026-12-05).

``presence.py`` verifies a candidate (reference, offset) by counting the reference's peaks
(rebuilt from its stored pairs) that are present in the query's map of 3 x 3 local maxima,
``z = (observed - sum p) / sqrt(sum p (1 - p))``, p = the bin's rate in the query's (dilated)
map. Every peak counts the same. Over three draws of queries it found 59 of 60 music-mix
queries: *knolls* (draw 3) stands at z 4.9 at its true offset, where the wrong references'
best is 6.0. Hypothesis: a better-weighted statistic separates it.

The general statistic of a variant, over the reference's peaks i (bin b_i, frame F_i) inside
the query's span at offset o, s_i the query segment of frame F_i - o::

    z = sum_i W[b_i, s_i] (G[b_i, F_i - o] - M[b_i, s_i]) / sqrt(sum_i W[b_i, s_i]^2 V[b_i, s_i])

- G: the query's map, dilated by +/-``tol`` frames (a maximum over them): 1 at a local maximum
  (binary), or a graded value there (``val``: ``height``, the whitened log magnitude, i.e. the
  height above the bin's running mean; ``rank``, its rank among the frame's 255 bins, 0-1);
  0 elsewhere.
- M, V: G's mean and variance over the frames of the segment in that bin (``seg`` frames a
  segment; none: the whole query, as ``presence.py``); for a binary G, p and p (1 - p).
- W: ``one`` (``presence.py``'s z, W = 1); ``llr`` (q): the log-likelihood ratio of a present
  peak, presence rate q under a match against p by chance: x log(q / p) + (1 - x) log((1 - q)
  / (1 - p)) = const + x (logit q - logit p), hence W = logit q - logit p, normalised by its
  null mean and variance (the formula above); ``inv``: W = 1 / p (the score test of a small
  presence rate s added to chance, q = s + (1 - s) p); ``std``: W = 1 / sqrt(V) (every bin
  standardised).
- maps: ``n3x3`` (``presence.MAPS``); ``lvl``: its maxima that also stand ``lvl`` above the
  mean of a 9 x 9 box around them; ``btol``: a maximum in bin b +/- 1 counts (dilated in bins).

Each variant is scored as ``presence.py``'s schemes: ``scan:K`` (every offset of each top-K
reference by bin-wise votes, weighted, the expected and variance terms from running sums per
segment, the 3 best offsets rescored exactly), ``hash:K:N`` (the K x N hash-coverage
candidates of ``presence.analyse``; with ``HASHC=1`` also the ``n3x3c`` candidates of the
denser query, written as variant ``<name>c``); results are pickled in ``presence.py``'s format
(var/presence_llr_<variant><TAG>.pkl), so its ``sum`` and ``md`` report them (names
``llr_<variant>``). Each registered query also gets its right reference's z at the TRUE offset
(the best of +/-2 frames; the benchmark's starts replayed, ``verified_offset.starts``) for the
oracle.

Data: the caches of ``query_density.py build`` (var/cache.pkl; var/cache_seed2.pkl and
var/cache_seed3.pkl, ``TAG=seed2``, ``TAG=seed3``; the draw's ``BENCH_CONTENT_SEED`` is set
from the TAG). Run from the repository, one heavy process at a time:

- ``python docs/studies/fingerprint/presence_llr.py run base llr35 ...`` (every query and the
  sweep; ``NOSWEEP=1`` skips the sweep, whose threshold is then the untagged run's;
  ``ONLY=mix`` keeps the clean30 and mix queries, for the oracle alone, without the sweep);
- ``... oracle base llr35 ...``: per variant, the right reference's z at the true offset for
  each registered mix query against the best wrong reference (its scan, 3 best offsets
  rescored); lowest right, highest wrong, the queries where the right is not above the wrong;
- ``... otable base rank ...``: the same as markdown rows (docs/matching.md);
- ``... three llr_rank/or:scan:20 llr_rankc/or:hash:10:20 ...``: one row per (variant,
  scheme) over the three draws (untagged, seed2, seed3: every run must exist);
- ``python docs/studies/fingerprint/presence.py sum llr_base/or:scan:20 ...`` (TAG as above):
  the scheme's table for one draw; ``... md`` per transform; ``presence_llr.py cpu base ...``:
  CPU per 30-s query by step, as recorded in the run.

Measured (docs/matching.md, "A weighted statistic"): no variant separates *knolls* under music
at the sweep's threshold; ``rank`` makes it top-1 (60/60 under both mixes over the three draws)
but raises the sweep's maximum as much; ``rankemp`` lowers the sweep's maximum and *knolls*
with it. Every variant needs only the query's spectrogram and the
reference's peaks rebuilt from its pairs.
"""

import os
import re
import sys
import time
from pathlib import Path

_seed = re.fullmatch(r"seed(\d+)", os.environ.get("TAG", ""))
if _seed:  # the draw's starts are replayed from the benchmark's seed
    os.environ["BENCH_CONTENT_SEED"] = _seed.group(1)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pickle

import numpy as np
import presence as P
import verified_offset as VO  # puts the repository on sys.path, chdir to it
from scipy.ndimage import uniform_filter

from governance.content import landmarks as L

TAG = VO.TAG
ROOT = VO.ROOT
MIX = VO.MIX
SEG5 = 215  # frames, 5 s

VARIANTS = {
    "base": dict(),  # presence.py's z (checks the reimplementation)
    "llr25": dict(w="llr", q=0.25),
    "llr35": dict(w="llr", q=0.35),
    "llr50": dict(w="llr", q=0.5),
    "inv": dict(w="inv"),
    "seg5": dict(seg=SEG5),
    "seg5llr35": dict(seg=SEG5, w="llr", q=0.35),
    "seg5inv": dict(seg=SEG5, w="inv"),
    "seg2": dict(seg=86),
    "hgt": dict(val="height"),
    "hgtstd": dict(val="height", w="std"),
    "rank": dict(val="rank"),
    "seg5hgt": dict(seg=SEG5, val="height"),
    "lvl1": dict(lvl=1.0),
    "lvl2": dict(lvl=2.0),
    "lvl1rank": dict(lvl=1.0, val="rank"),
    "lvl05rank": dict(lvl=0.5, val="rank"),
    "lvl15rank": dict(lvl=1.5, val="rank"),
    "lvl1rankstd": dict(lvl=1.0, val="rank", w="std"),
    # z standardised by the query's own null: the mean and deviation of the scan's z over every
    # offset of every scanned reference
    "rankemp": dict(val="rank", emp=True),
    "lvl05rankstd": dict(lvl=0.5, val="rank", w="std"),
    "btol": dict(btol=1),
}
TOL = 1
NSCAN = P.NSCAN


def qmaps(spec, v):
    """(points' rows, cols, values; G, the dilated map)."""
    nb, nf = 3, 3
    local = L._running_max(L._running_max(spec, nb, axis=0), nf, axis=1)
    m = (spec == local) & (spec > 0)
    if v.get("lvl"):
        m &= spec - uniform_filter(spec, (9, 9), mode="nearest") > v["lvl"]
    rows, cols = np.nonzero(m)
    val = v.get("val")
    if val == "height":
        pv = spec[rows, cols].astype(np.float64)
    elif val == "rank":
        rk = np.argsort(np.argsort(spec, axis=0), axis=0)
        pv = rk[rows, cols] / (spec.shape[0] - 1.0)
    else:
        pv = np.ones(len(rows))
    g = np.zeros(spec.shape, np.float64)
    g[rows, cols] = pv
    d = g.copy()
    for k in range(1, TOL + 1):
        d[:, k:] = np.maximum(d[:, k:], g[:, :-k])
        d[:, :-k] = np.maximum(d[:, :-k], g[:, k:])
    if v.get("btol"):
        e = d.copy()
        e[1:] = np.maximum(e[1:], d[:-1])
        e[:-1] = np.maximum(e[:-1], d[1:])
        d = e
        # the votes: each point also votes for the neighbouring bins
        rows = np.concatenate((rows, rows - 1, rows + 1))
        cols, pv = np.tile(cols, 3), np.tile(pv, 3)
        ok = (rows >= 0) & (rows < spec.shape[0])
        rows, cols, pv = rows[ok], cols[ok], pv[ok]
    return rows, cols, pv, d


class Stat:
    """One variant's per-query arrays: G, the segments' edges and each frame's segment, M, V,
    W (bins x segments)."""

    def __init__(self, spec, v):
        self.rows, self.cols, self.pv, self.g = qmaps(spec, v)
        nq = spec.shape[1]
        self.nq = nq
        nseg = max(1, round(nq / v["seg"])) if v.get("seg") else 1
        self.edges = np.linspace(0, nq, nseg + 1).round().astype(np.int64)
        self.segof = np.repeat(np.arange(nseg), np.diff(self.edges))
        m = np.stack([self.g[:, a:b].mean(axis=1) for a, b in zip(self.edges, self.edges[1:])], 1)
        var = np.stack([self.g[:, a:b].var(axis=1) for a, b in zip(self.edges, self.edges[1:])], 1)
        w = v.get("w", "one")
        pc = np.clip(m, 1e-3, 1 - 1e-3)
        if w == "llr":
            q = v["q"]
            wt = np.log(q / (1 - q)) - np.log(pc / (1 - pc))
        elif w == "inv":
            wt = 1 / pc
        elif w == "std":
            wt = 1 / np.sqrt(np.maximum(var, 1e-6))
        else:
            wt = np.ones_like(m)
        self.m, self.var, self.w = m, var, wt
        self.wm, self.wwv = wt * m, wt * wt * var
        self.vw = wt[self.rows, self.segof[self.cols]] * self.pv  # each point's vote weight

    def exact(self, b, f, offsets):
        """(z, observed weight, peaks) at each offset (query frame 0 = reference frame o)."""
        out = np.zeros((len(offsets), 3))
        for i, o in enumerate(offsets):
            lo, hi = np.searchsorted(f, [o, o + self.nq])
            bb, ff = b[lo:hi] - 1, f[lo:hi] - o
            s = self.segof[ff]
            w = self.w[bb, s]
            num = (w * (self.g[bb, ff] - self.m[bb, s])).sum()
            den = self.wwv[bb, s].sum()
            out[i] = (num / np.sqrt(max(den, 1e-12)), (self.g[bb, ff] > 0).sum(), hi - lo)
        return out

    def scan(self, b, f, n, votes):
        """Approximate z at every offset 0 .. n - nq: the weighted votes summed over +/-TOL
        frames (exact unless two maxima of a bin lie within 2 TOL frames), the expected and
        variance terms from running sums per segment."""
        idx, which = votes
        nq = self.nq
        v = np.bincount(idx, weights=self.vw[which], minlength=n + nq + 1)
        cv = np.concatenate(([0.0], np.cumsum(v)))
        o = np.arange(0, n - nq + 1)
        a, bnd = o + nq - TOL, o + nq + TOL + 1
        obs = cv[np.minimum(bnd, len(v))] - cv[np.maximum(a, 0)]
        e = np.zeros(len(o))
        var = np.zeros(len(o))
        for s in range(len(self.edges) - 1):
            cm = np.concatenate(([0.0], np.cumsum(self.wm[b - 1, s])))
            cw = np.concatenate(([0.0], np.cumsum(self.wwv[b - 1, s])))
            i0 = np.searchsorted(f, o + self.edges[s])
            i1 = np.searchsorted(f, o + self.edges[s + 1])
            e += cm[i1] - cm[i0]
            var += cw[i1] - cw[i0]
        return (obs - e) / np.sqrt(np.maximum(var, 1e-12)), o


def votes_of(refs, r, rows, cols, nq):
    """(vote index, voting point) of every equal-bin (reference peak, query point) pair: index
    reference frame - query frame + nq."""
    ft, ptr = refs.by_bin[r]
    lo = ptr[rows + 1]
    cnt = ptr[rows + 2] - lo
    total = int(cnt.sum())
    start = np.cumsum(cnt) - cnt
    pos = np.repeat(lo - start, cnt) + np.arange(total)
    which = np.repeat(np.arange(len(rows)), cnt)
    return ft[pos] - cols[which] + nq, which


def analyse(smp, sec, refs, index, names, true=None, right=None, hashc=False):
    """Per variant a presence.py-style result dict (and with hashc, ``<name>c`` too)."""
    base = P.analyse(smp, sec, refs, index, P.MAPS["n3x3"], scan=False)
    cands = [("", base)]
    if hashc:
        cands.append(("c", P.analyse(smp, sec, refs, index, P.MAPS["n3x3c"], scan=False)))
    t0 = time.process_time()
    spec = L.spectrogram(smp.astype(np.float32))
    tspec = time.process_time() - t0
    nref = len(refs.keys)
    nq = spec.shape[1]
    out = {}
    vcache = {}
    for name in names:
        v = VARIANTS[name]
        t0 = time.process_time()
        st = Stat(spec, v)
        tmap = time.process_time() - t0 + tspec
        key = (v.get("lvl"), v.get("btol"))
        t0 = time.process_time()
        if key not in vcache:
            vcache[key] = ([None] * nref, 0.0)
        vc, tv = vcache[key]
        tnew = 0.0
        sz = np.full(nref, np.nan)
        soff = np.full(nref, -1, np.int64)
        sfrac = np.full(nref, np.nan)
        acc = np.zeros(3)
        for r in np.argsort(-base["tb"], kind="stable")[: P.KSCAN]:
            b, f = refs.by_frame[r]
            n = refs.n[r]
            if n < nq:
                continue
            if vc[r] is None:
                t1 = time.process_time()
                vc[r] = votes_of(refs, r, st.rows, st.cols, nq)
                tnew += time.process_time() - t1
            z, offs = st.scan(b, f, n, vc[r])
            acc += (len(z), z.sum(), (z * z).sum())
            best = P.nms(offs[np.argsort(-z, kind="stable")[: 20 * NSCAN]], NSCAN)
            ex = st.exact(b, f, best)
            i = int(np.argmax(ex[:, 0]))
            sz[r], soff[r], sfrac[r] = ex[i, 0], best[i], ex[i, 1] / max(ex[i, 2], 1)
        vcache[key] = (vc, tv + tnew)
        tscan = time.process_time() - t0 - tnew  # the scan without the votes' indices
        tv += tnew
        tz = tfrac = np.nan
        if true is not None:
            b, f = refs.by_frame[right]
            near = [o for o in range(true - 2, true + 3) if 0 <= o <= refs.n[right] - nq]
            if near:
                ex = st.exact(b, f, near)
                i = int(np.argmax(ex[:, 0]))
                tz, tfrac = ex[i, 0], ex[i, 1] / max(ex[i, 2], 1)
        mu, sd = 0.0, 1.0
        if v.get("emp") and acc[0] > 1:
            mu = acc[1] / acc[0]
            sd = np.sqrt(max(acc[2] / acc[0] - mu * mu, 1e-12))
            sz = (sz - mu) / sd
            tz = (tz - mu) / sd
        for suffix, res in cands:
            t0 = time.process_time()
            hz = np.full_like(res["hz"], np.nan)
            for r in range(nref):
                ok = res["hoff"][r] >= 0
                if ok.any():
                    b, f = refs.by_frame[r]
                    hz[r, ok] = (st.exact(b, f, res["hoff"][r][ok])[:, 0] - mu) / sd
            ta = time.process_time() - t0
            out[name + suffix] = dict(
                cov=res["cov"],
                tb=res["tb"],
                ctb=res["ctb"],
                hz=hz,
                hoff=res["hoff"],
                sz=sz,
                soff=soff,
                sfrac=sfrac,
                tz=tz,
                tfrac=tfrac,
                cpu=dict(fp=res["cpu"]["fp"], map=tmap, a=ta, b=tscan + tv, votes=tv),
                null=(mu, sd),
                points=len(st.rows),
                nq=nq,
            )
    return out


def run(names):
    refs, index, qs, sweep = P.load()
    st = VO.starts()
    only = os.environ.get("ONLY")
    hashc = bool(os.environ.get("HASHC"))
    t0 = time.process_time()
    res_q = {}
    for tr, track, reg, smp, sec in qs:
        if only == "mix" and not (reg and tr in ("clean30", *MIX)):
            continue
        true = round(st[(tr, track)] / 2 / L.HOP) if reg else None
        right = refs.keys.index(track) if reg else None
        for k, res in analyse(smp, sec, refs, index, names, true, right, hashc).items():
            res_q.setdefault(k, []).append((tr, track, reg, sec, res))
    print(f"queries: {time.process_time() - t0:.0f} s CPU", flush=True)
    res_s = {k: [] for k in res_q}
    if not (only or os.environ.get("NOSWEEP")):
        for length, smp, sec in sweep:
            for k, res in analyse(smp, sec, refs, index, names, hashc=hashc).items():
                res_s[k].append((length, sec, res))
    cpu = time.process_time() - t0
    for k in res_q:
        pre = "llr_oracle_" if only else "presence_llr_"
        out = ROOT / "var" / f"{pre}{k}{TAG}.pkl"
        v = VARIANTS.get(k, VARIANTS.get(k[:-1]))
        out.write_bytes(pickle.dumps((refs.keys, v, cpu, res_q[k], res_s[k])))
    print(f"{names}: {cpu:.0f} s CPU, {len(qs)} queries, {len(sweep)} windows", flush=True)


def _results(name):
    for pre in ("presence_llr_", "llr_oracle_"):
        p = ROOT / "var" / f"{pre}{name}{TAG}.pkl"
        if p.exists():
            return P.unpickle(p)
    raise FileNotFoundError(name)


def oracle(names):
    """Right z at the true offset against the best wrong reference's z (its scan), the
    registered mix queries; and clean30's lowest."""
    for name in names:
        keys, _, _, res_q, _ = _results(name)
        rows = []
        for tr, track, reg, _, res in res_q:
            if not reg:
                continue
            r = keys.index(track)
            sz = np.where(np.isnan(res["sz"]), -np.inf, res["sz"])
            sz[r] = -np.inf
            wi = int(np.argmax(sz))
            rows.append((tr, track, res["tz"], res["tfrac"], sz[wi], keys[wi]))
        mixrows = [x for x in rows if x[0] in MIX]
        low = min(mixrows, key=lambda x: x[2])
        hi = max(mixrows, key=lambda x: x[4])
        bad = [x for x in mixrows if not x[2] > x[4]]
        c30 = [x[2] for x in rows if x[0] == "clean30"]
        lowm = {t: min(x[2] for x in mixrows if x[0] == t) for t in MIX}
        print(
            f"{name}{TAG}: mix right z at true offset min {low[2]:.1f} ({low[1]} {low[0][4:9]})"
            f" | music min {lowm[MIX[0]]:.1f} speech min {lowm[MIX[1]]:.1f}"
            f" | best wrong max {hi[4]:.1f} ({hi[1]} {hi[0][4:9]}: {hi[5]})"
            f" | right <= its wrong: {len(bad)}"
            f" | clean30 {min(c30, default=np.nan):.1f}-{max(c30, default=np.nan):.1f}",
            flush=True,
        )
        for x in sorted(mixrows, key=lambda x: x[2])[: int(os.environ.get("LOWEST", "3"))]:
            print(f"    {x[0][4:9]} {x[1]:24s} z {x[2]:6.1f} frac {x[3]:.3f} wrong {x[4]:5.1f}")
        for x in bad:
            print(f"    NOT SEPARATED: {x[0]} {x[1]} z {x[2]:.1f} wrong {x[4]:.1f} ({x[5]})")


def otable(names):
    """The oracle as markdown rows: per variant (and TAG), the lowest right z at the true offset
    under each mix (its query), clean30's lowest, the best wrong reference's highest over the
    registered mix queries, and the queries whose right z is not above their best wrong."""
    for name in names:
        keys, _, _, res_q, _ = _results(name)
        rows = []
        for tr, track, reg, _, res in res_q:
            if reg and tr in ("clean30", *MIX):
                sz = np.where(np.isnan(res["sz"]), -np.inf, res["sz"])
                r = keys.index(track)
                sz[r] = -np.inf
                rows.append((tr, track, res["tz"], sz.max()))

        def low(t):
            x = min((y for y in rows if y[0] == t), key=lambda y: y[2])
            return f"{x[2]:.1f} ({x[1]})"

        mix = [y for y in rows if y[0] in MIX]
        bad = sum(1 for y in mix if not y[2] > y[3])
        print(
            f"| {name} | {TAG or 'draw 1'} | {low(MIX[0])} | {low(MIX[1])} | {low('clean30')} | "
            f"{max(y[3] for y in mix):.1f} | {bad} |"
        )


def three(pairs):
    """One markdown row per (variant, scheme) over the three draws (untagged, seed2, seed3):
    the sweep's maxima and threshold (the untagged run's), per mix top-1 and recall over the
    60 queries, false matches, the lowest right score and the highest never-registered one;
    the 14 other transforms' top-1 over 840, lowest recall, false matches."""
    print(
        "| variant | scheme | sweep max 8 s / 30 s (threshold) | music mix, 3 draws: top-1, "
        "recall, false, lowest right, highest negative | speech mix: the same | 14 others: "
        "top-1, lowest recall, false |"
    )
    print("|---|---|---|---|---|---|")
    for name, scheme in pairs:
        tabs = []
        for tag in ("", "seed2", "seed3"):
            P.TAG = tag
            keys, _, _, res_q, res_s = P._load(name)
            tabs.append(P.evaluate(keys, res_q, res_s, scheme))
        m8, m30, thr = tabs[0][1]

        def cell(tr):
            rs = [t[tr] for t, _ in tabs]
            return (
                f"{sum(r['top1'] for r in rs)}/60, {sum(r['recall'] for r in rs)}/60, "
                f"{sum(r['false'] for r in rs)}, {P._f(min(r['low'] for r in rs))}, "
                f"{P._f(max(r['negmax'] for r in rs))}"
            )

        oth = [r for t, _ in tabs for tr, r in t.items() if tr not in MIX]
        print(
            f"| {name.removeprefix('llr_')} | {scheme} | {P._f(m8)} / {P._f(m30)} ({P._f(thr)}) | "
            f"{cell(MIX[0])} | {cell(MIX[1])} | {sum(r['top1'] for r in oth)}/840, "
            f"{min(r['recall'] for r in oth)}/20, {sum(r['false'] for r in oth)} |"
        )


def cpu(names):
    for name in names:
        _, _, total, res_q, _ = _results(name)
        rs = [r[4] for r in res_q if r[3] > 20]
        c = {k: np.mean([r["cpu"][k] for r in rs]) for k in ("fp", "map", "a", "b", "votes")}
        print(
            f"{name}{TAG} 30 s ({len(rs)}): "
            + ", ".join(f"{k} {v:.4f}" for k, v in c.items())
            + f"; run total {total:.0f} s"
        )


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "run":
        run(rest or list(VARIANTS))
    elif mode == "oracle":
        oracle(rest or list(VARIANTS))
    elif mode == "otable":
        otable(rest or list(VARIANTS))
    elif mode == "three":
        three([tuple(a.split("/", 1)) for a in rest])
    elif mode == "cpu":
        cpu(rest or list(VARIANTS))
