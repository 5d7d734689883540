"""Verified-offset scores for denser queries (issue 15, 2026-12-05).

Hypothesis: chance coverage is high because today's score is a maximum over every (reference,
offset) pair; a query's hits split in two independent halves, candidates (reference, offset)
found by one half and scored by the other half's coverage at exactly that offset (+/-1 frame),
should have a much lower chance level, so a denser query may raise the right track's score
without raising the best never-registered one.

Data: the cache of ``query_density.py build`` (var/cache.pkl: the references' fingerprints as
the service computes them, the benchmark's 480 decoded queries and the 1,344 sweep windows).
For each query-density variant every query and window is fingerprinted once, its hits against
the references computed once (``hits``), and every score below computed from the same hits:

- ``cov``: today's score (coverage, offsets +/-1 merged, max over references and offsets);
- ``ver:<split>:<k>``: the hits split in halves (``block``: even/odd 1-s query blocks;
  ``hbit``: the hash's lowest bit; ``frame``: the anchor frame's parity); for each reference,
  its top ``k`` offsets by one half's coverage, each scored by the other half's coverage at
  that offset; both directions; a reference's score is its best verified coverage;
- ``vsum:<split>:<k>``: the two directions' verified coverages added (each half's coverage at
  an offset the other half found);
- ``min:<split>``: max over (reference, offset) of min(coverage of A, coverage of B);
- ``rare``: coverage where a block counts only if its hits' weight, sum of 1 / postings of
  the hash, reaches ``w`` (a rarity-weighted vote).

Run from the repository, after ``python docs/studies/fingerprint/query_density.py build``:
``python docs/studies/fingerprint/verified_offset.py run d50 d100 d100n11 d100s4`` (writes
var/verified_<density>.pkl), then ``... report <density>`` (every score, env SCORERS and ONLY
to choose), ``... md d100n11/min:frame ...`` and ``... pt d50/cov ...`` (the tables of
docs/matching.md, "Verified offsets under -10 dB mixes"), ``... oracle d50`` (the right
track's coverage at each mix query's true offset, the starts replayed from the benchmark's
seed).
"""

import json
import os
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.chdir(ROOT)
import numpy as np  # noqa: E402

import query_density as QD  # noqa: E402
from governance.content import fingerprint  # noqa: E402

# TAG (env) names another cache and its results, e.g. TAG=seed2 for var/cache_seed2.pkl, built
# by ``BENCH_CONTENT_SEED=2 ... query_density.py build`` and renamed; NOSWEEP=1 skips the sweep
# (its thresholds are then those of the untagged run).
TAG = os.environ.get("TAG", "")
CACHE = ROOT / "var" / (f"cache_{TAG}.pkl" if TAG else "cache.pkl")
OFF = 1 << 23  # offsets are shifted by this to stay positive in packed keys
BL = 1 << 10  # query blocks < 1024

DENSITIES = {
    "d50": dict(ppb=50, pb=15, pf=9, fan=6, look=39),  # today's query = the reference's
    "d100": dict(ppb=100, pb=15, pf=9, fan=6, look=39),
    "d100n11": dict(ppb=100, pb=11, pf=7, fan=6, look=39),
    "d100s4": dict(ppb=100, pb=15, pf=9, fan=6, look=39, shifts=4),
    "d50s4": dict(ppb=50, pb=15, pf=9, fan=6, look=39, shifts=4),
}


class Index:
    def __init__(self, refs):
        self.keys = list(refs)
        hs, ts, ow = [], [], []
        for i, k in enumerate(self.keys):
            h, t, _ = refs[k]
            hs.append(np.asarray(h, np.int64))
            ts.append(np.asarray(t, np.int64))
            ow.append(np.full(len(h), i, np.int64))
        h, t, o = np.concatenate(hs), np.concatenate(ts), np.concatenate(ow)
        order = np.argsort(h, kind="stable")
        self.h, self.t, self.o = h[order], t[order], o[order]

    def hits(self, fp):
        """Every (owner, offset, query block, query hash, query frame, postings of the hash)."""
        qh = np.asarray(fp.hashes, np.int64)
        qt = np.asarray(fp.times, np.int64)
        lo = np.searchsorted(self.h, qh, "left")
        cnt = np.searchsorted(self.h, qh, "right") - lo
        total = int(cnt.sum())
        which = np.repeat(np.arange(len(qh)), cnt)
        pos = lo[which] + np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return dict(
            owner=self.o[pos],
            offset=self.t[pos] - qt[which],
            block=qt[which] // fingerprint.FRAMES_PER_BLOCK,
            qhash=qh[which],
            qtime=qt[which],
            post=cnt[which],
        )


def coverage(owner, offset, block, weight=None, wmin=0.0):
    """(centre keys, coverage) over (owner, centre) with offsets centre-1..centre+1 merged;
    with ``weight``, a block counts only if its merged weight reaches ``wmin``."""
    if len(owner) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    oc = owner * (1 << 24) + offset + OFF
    kk = np.concatenate((oc + 1, oc, oc - 1))
    bb = np.tile(block, 3)
    kb = kk * BL + bb
    if weight is None:
        u = np.unique(kb)
    else:
        u, inv = np.unique(kb, return_inverse=True)
        s = np.bincount(inv, weights=np.tile(weight, 3))
        u = u[s >= wmin]
    c, n = np.unique(u // BL, return_counts=True)
    return c, n


def per_owner_best(keys, cov, nref):
    best = np.zeros(nref, np.int64)
    np.maximum.at(best, keys >> 24, cov)
    return best


def verified(ka, ca, kb, cb, nref, k):
    """For each owner, its top-k centres by A's coverage, scored by B's coverage there."""
    out = np.zeros(nref, np.int64)
    if len(ka) == 0 or len(kb) == 0:
        return out
    owner = ka >> 24
    order = np.lexsort((-ca, owner))
    o_s = owner[order]
    rank = np.arange(len(o_s)) - np.searchsorted(o_s, o_s, "left")
    top = order[rank < k]
    cand = ka[top]
    pos = np.searchsorted(kb, cand)
    pos = np.minimum(pos, len(kb) - 1)
    got = np.where(kb[pos] == cand, cb[pos], 0)
    np.maximum.at(out, cand >> 24, got)
    return out


def split_mask(h, how):
    if how == "block":
        return h["block"] % 2 == 0
    if how == "hbit":
        return h["qhash"] % 2 == 0
    if how == "frame":
        return h["qtime"] % 2 == 0
    if how == "blk2":  # pairs of blocks: 0,1 | 2,3 | ...
        return (h["block"] // 2) % 2 == 0
    raise ValueError(how)


SPLITS = ("block", "hbit", "frame", "blk2")
KS = (1, 3, 10)
RARE_W = (0.5, 1.0)


def scores(h, nref):
    """Every scorer's per-reference scores, from one query's hits."""
    out = {}
    o, off, b = h["owner"], h["offset"], h["block"]
    k, c = coverage(o, off, b)
    out["cov"] = per_owner_best(k, c, nref)
    # the tie-break of every scorer: today's (coverage, then hits at that centre), as score_votes
    oc = o * (1 << 24) + off + OFF
    kh, nh = np.unique(np.concatenate((oc + 1, oc, oc - 1)), return_counts=True)
    hits = nh[np.searchsorted(kh, k)] if len(k) else np.zeros(0, np.int64)
    out["_tb"] = per_owner_best(k, c * (1 << 20) + hits, nref)
    for how in SPLITS:
        m = split_mask(h, how)
        ka, ca = coverage(o[m], off[m], b[m])
        kb, cb = coverage(o[~m], off[~m], b[~m])
        for kk in KS:
            ab, ba = verified(ka, ca, kb, cb, nref, kk), verified(kb, cb, ka, ca, nref, kk)
            out[f"ver:{how}:{kk}"] = np.maximum(ab, ba)
            out[f"vsum:{how}:{kk}"] = ab + ba
        # min(A, B) at one centre, maximised
        common, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
        out[f"min:{how}"] = per_owner_best(common, np.minimum(ca[ia], cb[ib]), nref)
    w = 1.0 / np.maximum(h["post"], 1)
    for wmin in RARE_W:
        k2, c2 = coverage(o, off, b, weight=w, wmin=wmin)
        out[f"rare:{wmin}"] = per_owner_best(k2, c2, nref)
    return out


def run(names):
    refs, qs, sweep = pickle.loads(CACHE.read_bytes())
    idx = Index(refs)
    nref = len(idx.keys)
    for name in names:
        v = DENSITIES[name]
        t0 = time.process_time()
        res_q, res_s = [], []
        for tr, track, reg, smp, sec in qs:
            fp = QD.qfp(smp, sec, v)
            res_q.append((tr, track, reg, sec, len(fp), scores(idx.hits(fp), nref)))
        for length, smp, sec in [] if os.environ.get("NOSWEEP") else sweep:
            fp = QD.qfp(smp, sec, v)
            res_s.append((length, sec, scores(idx.hits(fp), nref)))
        cpu = time.process_time() - t0
        out = ROOT / "var" / f"verified_{name}{TAG}.pkl"
        out.write_bytes(pickle.dumps((idx.keys, v, cpu, res_q, res_s)))
        print(f"{name}: {cpu:.0f} s CPU, {len(res_q)} queries, {len(res_s)} windows", flush=True)


def thresholds(res_s, scorer):
    """Just above the sweep's maximum at each length (8 s, 30 s)."""
    mx = {}
    for length, _, sc in res_s:
        mx[length] = max(mx.get(length, 0), int(sc[scorer].max()))
    return mx


def evaluate(keys, res_q, res_s, scorer, thr_of):
    """Per transform: top-1, recall at threshold, false matches, lowest right, highest neg."""
    rows = {}
    for tr, track, reg, sec, _, sc in res_q:
        s = sc[scorer]
        best = int(np.lexsort((sc["_tb"], s))[-1])  # ties broken as score_votes does
        top = s[best] > 0
        right = int(s[keys.index(track)]) if reg else 0
        limit = thr_of(sec)
        ok = reg and top and keys[best] == track
        rows.setdefault(tr, []).append((reg, ok, right, int(s[best]), limit))
    return tabulate(rows)


def tabulate(rows):
    """Per transform, from rows (registered?, right top-1?, right score, best score, threshold):
    top-1, registered queries, recall at the threshold, false matches, lowest right score,
    highest never-registered score."""
    table = {}
    for tr, rs in rows.items():
        pos = [r for r in rs if r[0]]
        neg = [r for r in rs if not r[0]]
        table[tr] = dict(
            top1=sum(r[1] for r in pos),
            n=len(pos),
            recall=sum(1 for r in pos if r[1] and r[2] >= r[4]),
            false=sum(1 for r in neg if r[3] >= r[4]) + sum(1 for r in pos if not r[1] and r[3] >= r[4]),
            low=min(r[2] for r in pos),
            negmax=max(r[3] for r in neg),
        )
    return table


def report(names, scorers=None, only=None):
    for name in names:
        keys, v, cpu, res_q, res_s = pickle.loads((ROOT / "var" / f"verified_{name}{TAG}.pkl").read_bytes())
        all_scorers = [k for k in res_q[0][5] if not k.startswith("_")]
        nh = np.mean([r[4] / r[3] for r in res_q])
        print(f"## {name} {v}: {nh:.0f} pairs/s, {cpu:.0f} s CPU for {len(res_q)} queries + {len(res_s)} windows")
        for scorer in scorers or all_scorers:
            mx = thresholds(res_s, scorer)
            if scorer == "cov":
                thr_of = fingerprint.threshold
            else:
                # the sweep's maximum + 1 at 8 and 30 s, linear in sqrt(s) between and beyond
                a8, a30 = mx[8] + 1, mx[30] + 1
                slope = (a30 - a8) / (np.sqrt(30) - np.sqrt(8))

                def thr_of(s, a8=a8, slope=slope):
                    return int(np.ceil(a8 + slope * (np.sqrt(s) - np.sqrt(8)) - 1e-9))

            t = evaluate(keys, res_q, res_s, scorer, thr_of)
            over = sum(1 for length, sec, sc in res_s if sc[scorer].max() >= thr_of(sec))
            cells = []
            for tr in only or t:
                r = t[tr]
                cells.append(f"{tr}:{r['top1']}/{r['recall']}/{r['false']}/{r['low']}/{r['negmax']}")
            tot1 = sum(r["top1"] for r in t.values())
            totf = sum(r["false"] for r in t.values())
            print(
                f"  {scorer:14s} sweep max 8s {mx[8]} 30s {mx[30]} (over thr {over}) thr8 {thr_of(8)} thr30 {thr_of(30)}"
                f" | top1 {tot1}/320 false {totf} | " + " ".join(cells),
                flush=True,
            )



def _thr_of(res_s, scorer):
    if scorer == "cov":
        return fingerprint.threshold
    mx = thresholds(res_s, scorer)
    a8, a30 = mx[8] + 1, mx[30] + 1
    slope = (a30 - a8) / (np.sqrt(30) - np.sqrt(8))
    return lambda s: int(np.ceil(a8 + slope * (np.sqrt(s) - np.sqrt(8)) - 1e-9))


def _load(name):
    keys, v, cpu, res_q, res_s = pickle.loads((ROOT / "var" / f"verified_{name}{TAG}.pkl").read_bytes())
    if not res_s:
        res_s = pickle.loads((ROOT / "var" / f"verified_{name}.pkl").read_bytes())[4]
    return keys, v, cpu, res_q, res_s


MIX = ("mix_music_-10dB", "mix_speech_-10dB")


def markdown(pairs):
    """The summary table of docs/matching.md: one row per (density, scorer)."""
    print("| query | score | pairs a second | sweep max 8 s / 30 s (threshold) | music mix: top-1, recall, false, lowest right, highest negative | speech mix: the same | 14 other transforms: top-1, lowest recall, false | all: top-1, false |")
    print("|---|---|---:|---|---|---|---|---|")
    for name, scorer in pairs:
        keys, v, cpu, res_q, res_s = _load(name)
        mx = thresholds(res_s, scorer)
        thr = _thr_of(res_s, scorer)
        over = sum(1 for _, sec, sc in res_s if sc[scorer].max() >= thr(sec))
        t = evaluate(keys, res_q, res_s, scorer, thr)
        nh = np.mean([r[4] / r[3] for r in res_q])
        cell = lambda r: f"{r['top1']}/20, {r['recall']}/20, {r['false']}, {r['low']}, {r['negmax']}"
        others = [r for tr, r in t.items() if tr not in MIX]
        sweep = f"{mx[8]} / {mx[30]} ({thr(8)} / {thr(30)}{'; ' + str(over) + ' windows over' if over else ''})"
        print(f"| {name} | {scorer} | {nh:.0f} | {sweep} | {cell(t[MIX[0]])} | {cell(t[MIX[1]])} | "
              f"{sum(r['top1'] for r in others)}/280, {min(r['recall'] for r in others)}/20, {sum(r['false'] for r in others)} | "
              f"{sum(r['top1'] for r in t.values())}/320, {sum(r['false'] for r in t.values())} |")


def per_transform(cols):
    """Per transform, for each (density, scorer): top-1 / recall / false."""
    data = []
    for name, scorer in cols:
        keys, v, cpu, res_q, res_s = _load(name)
        data.append(evaluate(keys, res_q, res_s, scorer, _thr_of(res_s, scorer)))
    print("| transform | " + " | ".join(f"{n} {s}: top-1, recall, false, lowest right, highest negative" for n, s in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for tr in data[0]:
        print(f"| {tr} | " + " | ".join(f"{d[tr]['top1']}/20, {d[tr]['recall']}/20, {d[tr]['false']}, {d[tr]['low']}, {d[tr]['negmax']}" for d in data) + " |")


def starts():
    """The benchmark's query starts (samples at C.RATE), by replaying ``C._queries``' draws."""
    import subprocess
    import tempfile

    from benchmarks import content as C

    _, registered, negatives = C.split()
    lengths = {n: len(C._decode_file(C.MUSIC / f"{n}.ogg")) for n in (*registered, *negatives)}
    mixers = [len(C._decode_file(C.MUSIC / f"{n}.ogg")) for n in C.MIXERS]
    with tempfile.TemporaryDirectory() as folder:
        spoken = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "165", "-w", str(spoken), C.SPEECH], check=True)
        speech = len(C._decode_file(spoken))
    rng = np.random.default_rng(C.SEED)
    out = {}
    for name, n in lengths.items():
        for transform in C.TRANSFORMS:
            length = {"crop8": 8, "crop15": 15}.get(transform, 30) * C.RATE
            start = int(rng.integers(0, n - length))
            out[(transform, name)] = start
            if transform.startswith(("white_", "pink_")):
                rng.standard_normal(length)
            elif transform == "mix_music_-10dB":
                m = mixers[int(rng.integers(len(mixers)))]
                rng.integers(0, max(1, m - length))
            elif transform == "mix_speech_-10dB":
                rng.integers(0, max(1, speech - length))
    return out


def oracle(names):
    """Coverage of the right reference at the query's TRUE offset (+/-1 frame, the best centre
    within 2 frames of start / 512): the most any verification at a fixed offset can find."""
    st = starts()
    refs, qs, _ = pickle.loads(CACHE.read_bytes())
    idx = Index(refs)
    for name in names:
        v = DENSITIES[name]
        lines = []
        for tr, track, reg, smp, sec in qs:
            if not (reg and tr in ("clean30", "mix_music_-10dB", "mix_speech_-10dB")):
                continue
            true = round(st[(tr, track)] / 2 / 256)
            h = idx.hits(QD.qfp(smp, sec, v))
            i = idx.keys.index(track)
            best = (0, 0, 0)
            for c in range(true - 2, true + 3):
                m = (h["owner"] == i) & (np.abs(h["offset"] - c) <= 1)
                hb = h["block"][m]
                cov = len(np.unique(hb))
                a = len(np.unique(hb[hb % 2 == 0]))
                best = max(best, (cov, a, cov - a))
            lines.append((tr, track, best))
        print(f"## oracle {name}: coverage at the true offset (all / even blocks / odd blocks)")
        for tr in ("clean30", "mix_music_-10dB", "mix_speech_-10dB"):
            cells = sorted((b[0], t, b) for x, t, b in lines if x == tr)
            print(f"  {tr}: " + ", ".join(f"{t[:14]} {b[0]} ({b[1]}/{b[2]})" for _, t, b in cells[:8]))


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "run":
        run(rest or list(DENSITIES))
    elif mode == "md":
        markdown([tuple(a.split("/")) for a in rest])
    elif mode == "pt":
        per_transform([tuple(a.split("/")) for a in rest])
    elif mode == "oracle":
        oracle(rest or list(DENSITIES))
    else:
        args = rest or list(DENSITIES)
        sc = os.environ.get("SCORERS")
        only = os.environ.get("ONLY")
        report(args, sc.split(",") if sc else None, only.split(",") if only else None)
