"""Generate the evaluation queries (WAV, 16-bit mono 22050 Hz) + manifest.
Positives: one query per reference track per transform, random offset. Negatives: one per never-registered track per transform.
Non-crop transforms act on a 30 s excerpt; crop8/crop15 are clean excerpts of 8/15 s from anywhere in the track."""
import json, os, subprocess, sys
import numpy as np, soundfile as sf
import common as C

rng = np.random.default_rng(1234)
sp = C.split()
os.makedirs(C.DATA + "/q", exist_ok=True)
# speech background: espeak-ng
txt = ("The committee met on Tuesday to review the quarterly figures. Revenue rose by four percent, "
       "while costs in the northern region fell sharply after the new contracts were signed. "
       "Several members asked whether the forecast for next year was too optimistic, and the chair agreed "
       "to publish a revised estimate before the end of the month. In other news, heavy rain is expected "
       "along the coast tonight, with strong winds and possible flooding in low lying areas. ") * 3
sp_wav = C.DATA + "/speech.wav"
if not os.path.exists(sp_wav):
    subprocess.run(["espeak-ng", "-s", "165", "-w", sp_wav, txt], check=True)
speech = C.decode(sp_wav)
mixers = {m: C.decode(C.path_of(m)) for m in sp["mixers"]}
print("speech s", len(speech) / C.SR, {k: len(v) / C.SR for k, v in mixers.items()})

T = ["clean30", "mp3_128k", "aac_64k", "opus_64k", "white_10dB", "white_5dB", "pink_10dB", "pink_5dB",
     "eq", "bandpass_300_3400", "crop8", "crop15", "mix_music_-10dB", "mix_speech_-10dB", "vol_-12dB", "vol_+9dB_clip"]


def transform(t, x):
    if t == "mp3_128k": return C.encode_roundtrip(x, "libmp3lame", 128000)
    if t == "aac_64k": return C.encode_roundtrip(x, "aac", 64000)
    if t == "opus_64k": return C.encode_roundtrip(x, "libopus", 64000)
    if t.startswith("white_") or t.startswith("pink_"):
        k, s = t.split("_"); return C.add_noise(x, float(s[:-2]), k, rng)
    if t == "eq": return C.eq(x)
    if t == "bandpass_300_3400": return C.bandpass(x)
    if t == "mix_music_-10dB":
        m = mixers[sp["mixers"][rng.integers(3)]]; o = rng.integers(0, max(1, len(m) - len(x)))
        return C.mix_under(x, m[o:])
    if t == "mix_speech_-10dB":
        o = rng.integers(0, max(1, len(speech) - len(x))); return C.mix_under(x, speech[o:])
    if t == "vol_-12dB": return x * 10 ** (-12 / 20)
    if t == "vol_+9dB_clip": return np.clip(x * 10 ** (9 / 20), -1, 1)
    return x


man = []
for role, names in [("pos", sp["refs"]), ("neg", sp["negs"])]:
    for n in names:
        x = C.decode(C.path_of(n))
        for t in T:
            L = {"crop8": 8, "crop15": 15}.get(t, 30) * C.SR
            o = int(rng.integers(0, len(x) - L))
            y = C.normalize_peak(transform(t, x[o:o + L].copy()))
            fn = f"{C.DATA}/q/{t}__{role}__{n}.wav"
            sf.write(fn, y, C.SR, subtype="PCM_16")
            man.append({"file": fn, "transform": t, "role": role, "track": n, "offset_s": o / C.SR, "dur_s": len(y) / C.SR})
        print(role, n, flush=True)
json.dump({"split": {k: v for k, v in sp.items() if k != "dur"}, "queries": man}, open(C.DATA + "/manifest.json", "w"), indent=1)
print(len(man), "queries")
