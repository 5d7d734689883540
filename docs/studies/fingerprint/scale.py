"""Matching cost vs catalog size (landmark and chromaprint index lookups). The 20 real reference tracks are replicated
K times with fresh track ids (hash/value distribution stays realistic) to emulate catalogs of 20*K tracks; the
real tracks keep ids 0..19 so accuracy is unaffected. Measures CPU per query for 30-s and 8-s clean/mp3 queries."""
import json, os, sys, time
import numpy as np
import common as C
import landmark_eval as L
import chroma_eval as CH

man = json.load(open(C.DATA + "/manifest.json"))
refs = {n: L.fingerprint(C.decode(C.path_of(n), L.SR)) for n in man["split"]["refs"]}
names, H, T, R = L.build(refs)
crefs = {n: CH.fpcalc(C.path_of(n))[0] for n in man["split"]["refs"]}
cn, CK, CT, CP = CH.build_index(crefs)
qs = [q for q in man["queries"] if q["role"] == "pos" and q["transform"] in ("mp3_128k", "crop8", "mix_music_-10dB")]
qfp = [(q, L.fingerprint(C.decode(q["file"], L.SR))) for q in qs]
cqfp = [(q, CH.fpcalc(q["file"])[0]) for q in qs]
for K in (1, 10, 50, 150):
    o = np.argsort(np.tile(H, K), kind="stable")
    HH = np.tile(H, K)[o]; TT = np.tile(T, K)[o]
    RR = (np.tile(R, K) + np.repeat(np.arange(K) * 20, len(R)))[o]
    idx = (names + [f"dup{i}" for i in range(20 * (K - 1))], HH, TT, RR)
    t0 = time.process_time(); ok = 0; aud = 0
    for q, (h, t) in qfp:
        b = L.match(h, t, idx); aud += 0; aud += q["dur_s"]
    lm = time.process_time() - t0
    # chromaprint 28-bit index
    ck = np.tile(CK, K); o = np.argsort(ck, kind="stable")
    cidx = (cn + [f"dup{i}" for i in range(20 * (K - 1))], ck[o], (np.tile(CT, K) + np.repeat(np.arange(K) * 20, len(CT)))[o], np.tile(CP, K)[o])
    crefs2 = dict(crefs); crefs2.update({f"dup{i}": crefs[cn[i % 20]] for i in range(20 * (K - 1))})
    t0 = time.process_time(); cok = 0
    for q, fp in cqfp:
        b, _ = CH.index_match(fp, crefs2, cidx) if len(fp) else ({}, 0)
        pass
    cm = time.process_time() - t0
    print(f"catalog={20 * K:5d} tracks ({len(HH) / 1e6:.1f}M landmark postings, {len(ck) / 1e6:.2f}M chroma postings): "
          f"landmark match {lm:.2f}s CPU for {aud:.0f}s audio ({aud / lm:.0f}x RT); "
          f"chroma match {cm:.2f}s ({aud / max(cm, 1e-9):.0f}x RT)", flush=True)
