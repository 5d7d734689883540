"""Summarise results/*.json into markdown tables: per transform top-1, recall/precision at a threshold, negatives."""
import json, sys
from collections import defaultdict

ORDER = ["clean30", "mp3_128k", "aac_64k", "opus_64k", "white_10dB", "white_5dB", "pink_10dB", "pink_5dB", "eq",
         "bandpass_300_3400", "crop8", "crop15", "mix_music_-10dB", "mix_speech_-10dB", "vol_-12dB", "vol_+9dB_clip"]


def table(res, top_key, score_key, thr, fmt):
    th = thr if callable(thr) else (lambda r, v=thr: v)
    by = defaultdict(list)
    for r in res: by[r["transform"]].append(r)
    rows = ["| transform | top-1 (pos) | recall@thr | precision@thr | negatives ≥thr | min score correct pos | max score neg |",
            "|---|---|---|---|---|---|---|"]
    tot = defaultdict(int)
    for t in ORDER:
        P = [r for r in by[t] if r["role"] == "pos"]; N = [r for r in by[t] if r["role"] == "neg"]
        top1 = sum(r[top_key] == r["track"] for r in P)
        tp = sum(r[top_key] == r["track"] and r[score_key] >= th(r) for r in P)
        fp = sum(r[top_key] != r["track"] and r[score_key] >= th(r) for r in P) + sum(r[score_key] >= th(r) for r in N)
        nfp = sum(r[score_key] >= th(r) for r in N)
        cs = [r[score_key] for r in P if r[top_key] == r["track"]]
        rows.append(f"| {t} | {top1}/{len(P)} | {tp / len(P):.2f} | {(tp / (tp + fp)) if tp + fp else float('nan'):.3f} | {nfp}/{len(N)} | "
                    f"{fmt(min(cs)) if cs else '-'} | {fmt(max(r[score_key] for r in N))} |")
        for k, v in (("top1", top1), ("P", len(P)), ("tp", tp), ("fp", fp), ("nfp", nfp), ("N", len(N))): tot[k] += v
    rows.append(f"| **all** | {tot['top1']}/{tot['P']} | {tot['tp'] / tot['P']:.2f} | {tot['tp'] / max(1, tot['tp'] + tot['fp']):.3f} | {tot['nfp']}/{tot['N']} | | |")
    return "\n".join(rows)


def neg_max(res, top_key, score_key):
    neg = [r[score_key] for r in res if r["role"] == "neg"]
    wrong = [r[score_key] for r in res if r["role"] == "pos" and r[top_key] != r["track"]]
    return max(neg), (max(wrong) if wrong else None)


def sweep_thr(path, key="best"):
    """threshold per query length: just above the max impostor score seen in the sweep for that window length"""
    sw = json.load(open(path))
    m8 = max(r[key] for r in sw if r["len"] == 8); m30 = max(r[key] for r in sw if r["len"] == 30)
    return m8, m30


if __name__ == "__main__":
    for path in sys.argv[1:]:
        d = json.load(open(path)); res = d["results"]
        print(f"\n### {path}\n\nspeed: `{json.dumps(d['speed'])}`\n")
        if "idx_top" in res[0]:
            for mode in ("idx", "brute"):
                mn, mw = neg_max(res, f"{mode}_top", f"{mode}_score")
                thr = round(mn + 0.01, 3)
                print(f"\n#### Chromaprint, {mode} lookup — score = 1-BER; max negative {mn:.3f}, max wrong-top positive {mw}; threshold {thr}\n")
                print(table(res, f"{mode}_top", f"{mode}_score", thr, lambda v: f"{v:.3f}"))
            m8, m30 = sweep_thr("results/sweep_chroma.json")
            f = lambda r: (m8 if r["dur_s"] < 20 else m30) + 0.01
            print(f"\n#### Chromaprint, idx lookup, sweep thresholds: 8 and 15 s queries {m8 + 0.01:.3f} (8-s impostor max, conservative for 15 s), 30 s {m30 + 0.01:.3f}\n")
            print(table(res, "idx_top", "idx_score", f, lambda v: f"{v:.3f}"))
        else:
            mn, mw = neg_max(res, "top", "score")
            print(f"\n#### Landmark — score = time coverage (distinct 1-s query blocks in best offset bin); max negative {mn}, max wrong-top positive {mw}; threshold {mn + 1}\n")
            print(table(res, "top", "score", mn + 1, lambda v: f"{v}"))
            b = d["speed"].get("bands", 1); d = int(d["speed"]["density"]); tag = f"d{d}" + (f"_b{b}" if b > 1 else "")
            m8, m30 = sweep_thr(f"results/sweep_landmark_{tag}.json")
            f = lambda r: (m8 if r["dur_s"] < 12 else m30) + 1
            print(f"\n#### Landmark, coverage, sweep thresholds: 8 s queries {m8 + 1}, 15/30 s {m30 + 1}\n")
            print(table(res, "top", "score", f, lambda v: f"{v}"))
            c8, c30 = sweep_thr(f"results/sweep_landmark_{tag}.json", "best_count")
            f = lambda r: (c8 if r["dur_s"] < 12 else c30) + 1
            print(f"\n#### Landmark, raw hash count (audfprint-style), sweep thresholds: 8 s {c8 + 1}, 15/30 s {c30 + 1}\n")
            print(table(res, "top_by_count", "score_count", f, lambda v: f"{v}"))
