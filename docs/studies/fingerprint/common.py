"""Shared helpers: decoding (PyAV), track split, transforms (numpy/scipy/PyAV)."""
import io, json, os, glob
import numpy as np
import av
from scipy import signal

MUSIC = "/usr/share/games/wesnoth/1.16/data/core/music"
SR = 22050  # working rate for queries; both fingerprinters resample to 11025 internally
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def decode(path, sr=SR):
    """Decode any file to mono float32 at sr with PyAV (bundled FFmpeg)."""
    out = []
    with av.open(path) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=sr)
        for fr in c.decode(audio=0):
            for f2 in rs.resample(fr):
                out.append(f2.to_ndarray().reshape(-1))
        for f2 in rs.resample(None):
            out.append(f2.to_ndarray().reshape(-1))
    return np.concatenate(out).astype(np.float32)


def split():
    """Deterministic catalog split. Excludes near-duplicate variants and very short stingers."""
    files = sorted(glob.glob(MUSIC + "/*.ogg"))
    names = [os.path.basename(f)[:-4] for f in files]
    import soundfile as sf
    dur = {n: sf.info(f).duration for n, f in zip(names, files)}
    related = {"battle-epic", "frantic-old", "defeat2", "victory2", "silence", "defeat", "victory", "elf-land"}
    mixers = ["main_menu", "sad", "transience"]  # background music for -10 dB mixes
    long_ = [n for n in names if dur[n] >= 150 and n not in related]
    rng = np.random.default_rng(15)
    perm = [str(n) for n in rng.permutation(long_)]
    refs = sorted(perm[:20])
    negs = sorted(perm[20:] + [n for n in ["love_theme", "revelation", "underground"]])
    return {"refs": refs, "negs": negs, "mixers": mixers, "dur": dur}


def path_of(name):
    return f"{MUSIC}/{name}.ogg"


def encode_roundtrip(x, codec, bitrate, sr=SR):
    """Encode mono float at sr with PyAV, decode back to sr."""
    enc_rate = {"libmp3lame": 44100, "aac": 44100, "libopus": 48000}[codec]
    fmt = {"libmp3lame": "mp3", "aac": "adts", "libopus": "ogg"}[codec]
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as oc:
        st = oc.add_stream(codec, rate=enc_rate)
        st.bit_rate = bitrate
        st.layout = "mono"
        rs = av.AudioResampler(format=st.format.name if hasattr(st, "format") else "fltp", layout="mono", rate=enc_rate)
        pcm = np.clip(x, -1, 1).astype(np.float32).reshape(1, -1)
        hop = 4096
        for i in range(0, pcm.shape[1], hop):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, i:i + hop]), format="flt", layout="mono")
            fr.sample_rate = sr
            for f2 in rs.resample(fr):
                for p in st.encode(f2):
                    oc.mux(p)
        for f2 in rs.resample(None):
            for p in st.encode(f2):
                oc.mux(p)
        for p in st.encode(None):
            oc.mux(p)
    buf.seek(0)
    return decode(buf, sr)


def rms(x):
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def add_noise(x, snr_db, kind, rng):
    n = rng.standard_normal(len(x))
    if kind == "pink":
        X = np.fft.rfft(n)
        f = np.arange(len(X)); f[0] = 1
        n = np.fft.irfft(X / np.sqrt(f), len(x))
    n = n / rms(n) * rms(x) / (10 ** (snr_db / 20))
    return (x + n).astype(np.float32)


def eq(x, sr=SR):
    """'Consumer EQ': +8 dB bass shelf <150 Hz, -10 dB notch-ish at 1 kHz, +6 dB presence 3-5 kHz, -12 dB above 8 kHz."""
    X = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / sr)
    g_db = 8 / (1 + (f / 150) ** 2) - 10 * np.exp(-0.5 * (np.log2((f + 1) / 1000) / 0.5) ** 2) \
        + 6 * np.exp(-0.5 * (np.log2((f + 1) / 4000) / 0.4) ** 2) - 12 / (1 + (8000 / (f + 1)) ** 4)
    return np.fft.irfft(X * 10 ** (g_db / 20), len(x)).astype(np.float32)


def bandpass(x, sr=SR):
    sos = signal.butter(4, [300, 3400], btype="band", fs=sr, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def mix_under(x, bg, rel_db=-10.0):
    """Registered recording x sits rel_db below the background bg (i.e. SNR of x = rel_db)."""
    bg = np.resize(bg, len(x))
    bg = bg / rms(bg) * rms(x) / (10 ** (rel_db / 20))
    return (x + bg).astype(np.float32)


def normalize_peak(x):
    p = float(np.max(np.abs(x)))
    return x / p * 0.99 if p > 0.99 else x
