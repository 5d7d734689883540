"""Constellation presence at catalogue scale, in memory (issue 15, 2026-12-05).

Hypothesis: ``presence.py`` separates both -10 dB mixes on a catalogue of 20 references when
its candidates come from a denser query (``n3x3c``: ``verified_offset.DENSITIES["d100s4"]``,
the top K references by coverage, 20 offsets each); with thousands of references the right
reference may fall out of the top K (today's query put it at rank 14-18 of 20), and the
chance level of the presence z grows with the candidates verified (the sweep's maximum was 4.9
with 10 x 20, 6.1 with 20 x 20). Measured here: the right reference's rank among N references
by coverage (ties by hits) with today's query (``d50``) and the denser one (``d100s4``); the
presence decision (map ``n3x3``, ``presence.py``'s ``or:hash:K:20``) with K = 10, 20, 50 at N;
CPU per query of the lookups and of the verification.

Data: the caches of ``query_density.py build`` (var/cache.pkl, var/cache_seed2.pkl with
``TAG=seed2``). The catalogue: the cache's 20 references as they are (replica 0), and replicas
1 .. N/20 - 1 of them whose hashes are permuted as ``BENCH_CONTENT_REPLICATION=popular`` does
(``benchmarks.content_scale.Permutations``, imported; its classes built from these 20
references' hashes, where the benchmark builds them from all its base tracks), each replica
with its base track's frames. A replica's peaks for verification are rebuilt from its permuted
hashes (``presence.ref_peaks``), as a store holding such a track would give them. The postings
are one sorted int64 array in memory (hash << 36 | owner << 22 | frame) and an int32 copy of
its hashes for the lookups (12 bytes a posting, 78,000 postings a reference).

Queries: the 40 registered mix queries of a draw (``MIX``), and for ``run`` the 20
never-registered queries of the same two transforms and the impostor sweep (var/cache.pkl's
1,344 windows, or with ``SWEEP=k`` every k-th pair of consecutive windows: a window and
its speech-mixed twin, in ``query_density.build``'s order). Run from the repository, one
heavy process at a time:

- ``python docs/studies/fingerprint/presence_scale.py rank 1000 5000``: the right reference's
  rank by coverage among N references (``d50`` and ``d100s4``), the mix queries only;
- ``... run 1000`` (var/presence_scale_<N><TAG>.pkl; ``NOSWEEP=1`` skips the sweep, whose
  threshold is then the untagged run's), then ``... report 1000`` (per K: the sweep's maximum
  z and threshold, top-1 / recall / false on the two mixes, the never-registered queries'
  highest score, CPU per query by step); ``... cpu 1000``: CPU per mix query by step, the
  candidates' peaks rebuilt for each query (no cache).
"""

import os
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import presence as P
import query_density as QD
import verified_offset as VO  # puts the repository on sys.path, chdir to it

from benchmarks.content_scale import Permutations
from governance.content import fingerprint
from governance.content import landmarks as L

TAG = VO.TAG
MIX = VO.MIX
KS = (10, 20, 50)  # candidate references verified (the denser query's top K)
MAP = P.MAPS["n3x3"]
HB, OB = 36, 22
QPAD = 3000  # query frames at most (30-s queries: 2,584)
CHUNK = 20_000_000  # postings looked up at a time  # key = hash << HB | owner << OB | frame


class Catalogue:
    """N references: the cache's T, then replicas of them with "popular"-permuted hashes."""

    def __init__(self, refs, n):
        self.base = list(refs)
        nb = len(self.base)
        assert n % nb == 0, f"N is a multiple of {nb}"
        self.n_refs = n
        bh = [np.asarray(refs[k][0], np.int64) for k in self.base]
        self.bt = [np.asarray(refs[k][1], np.int64) for k in self.base]
        self.secs = [refs[k][2] for k in self.base]
        perms = Permutations(np.concatenate(bh), fingerprint.HASH_BITS)
        lens = np.array([len(h) for h in bh] * (n // nb))
        self.start = np.concatenate(([0], np.cumsum(lens)))
        key = np.empty(int(self.start[-1]), np.int64)
        self.hh = np.empty(len(key), np.int32)  # each owner's (permuted) hashes, unsorted
        for r in range(n // nb):
            table = perms.of(r)
            for b in range(nb):
                o = r * nb + b
                h = table[bh[b]]
                s, e = self.start[o], self.start[o + 1]
                self.hh[s:e] = h
                key[s:e] = (h << HB) | (o << OB) | self.bt[b]
        key.sort()
        self.key = key
        self.h = (key >> HB).astype(np.int32)
        self.peaks, self.nframes = {}, {}
        # the ranking's cells: owner o's offset x is cell seg[o] + QPAD + x, x in (-QPAD, last
        # frame + 1]: one empty cell at least between owners
        last = np.array([int(t.max()) for t in self.bt] * (n // nb))
        self.seg = np.concatenate(([0], np.cumsum(QPAD + last + 2)))
        self.by_frame = self  # for presence.Refs.exact: self.by_frame[r]

    def __getitem__(self, o):
        """Owner o's peaks (bins, frames), rebuilt from its stored (permuted) pairs."""
        if o not in self.peaks:
            b = o % len(self.base)
            bb, ff = P.ref_peaks(self.hh[self.start[o] : self.start[o + 1]], self.bt[b])
            self.peaks[o] = (bb, ff)
            self.nframes[o] = max(P.frames_of(self.secs[b]), int(ff.max()) + 1)
        return self.peaks[o]

    def hits(self, qh, qt):
        """(owner, offset, query block) of every posting of the query's hashes."""
        lo = np.searchsorted(self.h, qh, "left")
        cnt = np.searchsorted(self.h, qh, "right") - lo
        total = int(cnt.sum())
        pos = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
        k = self.key[pos]
        del pos
        qt = np.repeat(qt, cnt)
        return (
            (k >> OB) & ((1 << (HB - OB)) - 1),
            (k & ((1 << OB) - 1)) - qt,
            qt // fingerprint.FRAMES_PER_BLOCK,
        )

    def ranking(self, fp):
        """Per cell (owner, centre): coverage << 20 + hits (offsets centre -1 .. +1 merged, as
        ``verified_offset.coverage`` counts them, without its sort: a block bitmap a cell);
        per owner its best (today's ranking: coverage, ties by hits). The query's hashes a
        slice at a time (CHUNK postings at most, memory)."""
        qh = np.asarray(fp.hashes, np.int32)
        qt = np.asarray(fp.times, np.int64)
        bits = np.zeros(int(self.seg[-1]), np.uint32)
        cnt = np.zeros(len(bits), np.int32)
        per = np.searchsorted(self.h, qh, "right") - np.searchsorted(self.h, qh, "left")
        cuts = np.searchsorted(np.cumsum(per), np.arange(CHUNK, int(per.sum()), CHUNK))
        for a, b in zip((0, *cuts), (*cuts, len(qh)), strict=True):
            o, off, blk = self.hits(qh[a:b], qt[a:b])
            assert len(off) == 0 or off.min() > 1 - QPAD, "a query longer than QPAD frames"
            assert len(blk) == 0 or blk.max() < 32
            cell = self.seg[o] + QPAD + off
            del o, off
            np.bitwise_or.at(bits, cell, np.left_shift(np.uint32(1), blk.astype(np.uint32)))
            cnt += np.bincount(cell, minlength=len(bits)).astype(np.int32)
            del cell, blk
        m = bits.copy()
        m[1:] |= bits[:-1]
        m[:-1] |= bits[1:]
        del bits
        comb = np.bitwise_count(m).astype(np.int64) << 20
        del m
        comb += cnt
        comb[1:] += cnt[:-1]
        comb[:-1] += cnt[1:]
        del cnt
        return comb, np.maximum.reduceat(comb, self.seg[:-1])


def analyse(samples, seconds, cat, kmax):
    """Today's ranking (d50), the denser query's (d100s4), and the presence z of the denser
    query's top kmax references at their NCAND best offsets (as ``presence.analyse``)."""
    cpu = {}
    t0 = time.process_time()
    fp = QD.qfp(samples, seconds, VO.DENSITIES["d50"])
    cpu["fp50"] = time.process_time() - t0
    t0 = time.process_time()
    tb = cat.ranking(fp)[1]
    cpu["look50"] = time.process_time() - t0
    t0 = time.process_time()
    fp = QD.qfp(samples, seconds, VO.DENSITIES["d100s4"])
    cpu["fp100"] = time.process_time() - t0
    t0 = time.process_time()
    comb, ctb = cat.ranking(fp)
    top = np.argsort(-ctb, kind="stable")[:kmax]
    cpu["look100"] = time.process_time() - t0
    t0 = time.process_time()
    hz = np.full((len(top), P.NCAND), np.nan)
    if kmax:
        spec = L.spectrogram(samples.astype(np.float32))
        _, dmap = P.qmap(spec, MAP["nb"], MAP["nf"], MAP["tol"])
        p = dmap.mean(axis=1)
        q = p * (1 - p)
        nq = spec.shape[1]
        for i, r in enumerate(top.tolist()):
            seg = comb[cat.seg[r] : cat.seg[r + 1]]
            nz = np.flatnonzero(seg)
            ranked = nz[np.argsort(-seg[nz], kind="stable")] - QPAD  # centres by (coverage, hits)
            cat[r]
            ranked = ranked[(ranked >= 0) & (ranked <= cat.nframes[r] - nq)]
            cand = P.nms(ranked, P.NCAND)
            if cand:
                hz[i, : len(cand)] = P.zscore(P.Refs.exact(cat, r, cand, dmap, p, q))
            if i + 1 in KS:
                cpu[f"verify{i + 1}"] = time.process_time() - t0
    cpu["verify"] = time.process_time() - t0
    return dict(tb=tb, ctb=ctb, top=top, hz=hz, cpu=cpu)


def expand(res):
    """The full-size result ``presence.evaluate`` reads (its ``hash:K:N`` and ``cov``)."""
    n = len(res["tb"])
    hz = np.full((n, P.NCAND), np.nan)
    hz[res["top"]] = res["hz"]
    return dict(cov=res["tb"] >> 20, tb=res["tb"], ctb=res["ctb"], hz=hz)


class Lazy:
    """An iterable of result tuples, the last item expanded on the fly."""

    def __init__(self, rows):
        self.rows = rows

    def __iter__(self):
        for *head, res in self.rows:
            yield (*head, expand(res))


def load(n):
    t0, c0 = time.perf_counter(), time.process_time()
    refs, qs, sweep = P.unpickle(VO.CACHE)
    cat = Catalogue(refs, n)
    print(
        f"N {n:,}: {len(cat.key):,} postings, "
        f"{(cat.key.nbytes + cat.h.nbytes + cat.hh.nbytes) / 2**30:.1f} GiB, built in "
        f"{time.perf_counter() - t0:.0f} s ({time.process_time() - c0:.0f} s CPU)",
        flush=True,
    )
    return cat, qs, sweep


def rank(ns):
    """The right reference's rank among N (1 + references scoring strictly more)."""
    for n in ns:
        cat, qs, _ = load(n)
        rows = []
        for tr, track, reg, smp, sec in qs:
            if not (reg and tr in MIX):
                continue
            r = cat.base.index(track)
            res = analyse(smp, sec, cat, 0)
            rows.append(
                (
                    tr,
                    {
                        d: 1 + int((res[x] > res[x][r]).sum())
                        for d, x in (("d50", "tb"), ("d100s4", "ctb"))
                    },
                    res["cpu"],
                )
            )
            print(f"  {tr} {track[:24]:24s} {rows[-1][1]}", flush=True)
        print(f"## rank N {n:,}{' ' + TAG if TAG else ''}: right reference in the top 10/20/50/100")
        for tr in MIX:
            for d in ("d50", "d100s4"):
                rk = [x[1][d] for x in rows if x[0] == tr]
                print(
                    f"| {n:,} | {tr} | {d} | "
                    + " | ".join(f"{sum(v <= t for v in rk)}/{len(rk)}" for t in (10, 20, 50, 100))
                    + f" | {int(np.median(rk))} | {max(rk)} |"
                )
        c = {k: np.mean([x[2][k] for x in rows]) for k in rows[0][2]}
        print(
            "  CPU per 30-s query (s): " + ", ".join(f"{k} {v:.3f}" for k, v in c.items()),
            flush=True,
        )
        del cat


def cpu(n):
    """CPU per registered mix query by step, every reference's peaks rebuilt from its pairs
    for each query (as a store would: no cache between queries)."""
    cat, qs, _ = load(n)
    rows = []
    for tr, _, reg, smp, sec in qs:
        if reg and tr in MIX:
            cat.peaks.clear()
            rows.append(analyse(smp, sec, cat, max(KS))["cpu"])
    print(
        f"## CPU per 30-s mix query (s), N {n:,}{' ' + TAG if TAG else ''}, {len(rows)} queries: "
        + ", ".join(f"{k} {np.mean([r[k] for r in rows]):.3f}" for k in rows[0]),
        flush=True,
    )


def run(n):
    cat, qs, sweep = load(n)
    kmax = max(KS)
    step = int(os.environ.get("SWEEP", "1"))
    t0 = time.process_time()
    res_q = [
        (tr, track, reg, sec, analyse(smp, sec, cat, kmax))
        for tr, track, reg, smp, sec in qs
        if tr in MIX
    ]
    print(f"queries: {time.process_time() - t0:.0f} s CPU", flush=True)
    res_s = [
        (length, sec, analyse(smp, sec, cat, kmax))
        for i, (length, smp, sec) in enumerate([] if os.environ.get("NOSWEEP") else sweep)
        if (i // 2) % step == 0  # a window and its speech-mixed twin (build's order) together
    ]
    cpu = time.process_time() - t0
    out = VO.ROOT / "var" / f"presence_scale_{n}{TAG}.pkl"
    out.write_bytes(pickle.dumps((cat.base, n, step, cpu, res_q, res_s)))
    print(f"N {n}: {cpu:.0f} s CPU, {len(res_q)} queries, {len(res_s)} windows", flush=True)


def report(n):
    keys, n, step, _, res_q, res_s = P.unpickle(VO.ROOT / "var" / f"presence_scale_{n}{TAG}.pkl")
    if not res_s:
        _, _, step, _, _, res_s = P.unpickle(VO.ROOT / "var" / f"presence_scale_{n}.pkl")
    keys = keys + [f"replica-{i}" for i in range(len(keys), n)]
    print(
        f"## N {n:,}{' ' + TAG if TAG else ''}: {len(res_q)} queries, "
        f"{len(res_s)} windows (every {step})"
    )
    for scheme in ("cov", *(f"or:hash:{k}:{P.NCAND}" for k in KS)):
        t, (m8, m30, thr) = P.evaluate(keys, Lazy(res_q), Lazy(res_s), scheme)
        print(
            f"| {n:,} | {scheme} | {P._f(m8)} / {P._f(m30)} ({P._f(thr) if thr else '7 / 9'}) | "
            + " | ".join(
                f"{t[tr]['top1']}/20, {t[tr]['recall']}/20, {t[tr]['false']}, "
                f"{P._f(t[tr]['low'])}, {P._f(t[tr]['negmax'])}"
                for tr in MIX
            )
            + " |"
        )
    rs = [r[4] for r in res_q]
    c = {k: np.mean([r["cpu"][k] for r in rs]) for k in rs[0]["cpu"]}
    print("  CPU per 30-s query (s): " + ", ".join(f"{k} {v:.3f}" for k, v in c.items()))


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "rank":
        rank([int(x) for x in rest])
    elif mode == "cpu":
        cpu(int(rest[0]))
    elif mode == "run":
        run(int(rest[0]))
    else:
        report(int(rest[0]))
