"""Regenerate the voice test recordings in this folder (committed, so that the tests need no
speech synthesiser): ``python -m tests.voice_samples.generate`` with Debian's ``flite`` 2.2.

Each is flite reading Harvard sentences (IEEE, 1969) with one of its voices, built from the
CMU ARCTIC recordings of real speakers (``slt`` a woman, ``rms`` and ``awb`` men), resampled
to 16 kHz mono and encoded as Opus at 32 kbit/s in OGG (PyAV): a few kilobytes each.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import av

HERE = Path(__file__).resolve().parent
SAMPLES = {
    # name: (voice, duration stretch, text)
    "slt_ref1": ("slt", 1.0, "The birch canoe slid on the smooth planks. "
                 "Glue the sheet to the dark blue background."),
    "slt_ref2": ("slt", 1.1, "Rice is often served in round bowls. "
                 "The juice of lemons makes fine punch."),
    "slt_query": ("slt", 0.9, "The box was thrown beside the parked truck. "
                  "Four hours of steady work faced us."),
    "rms_ref1": ("rms", 1.0, "The boy was there when the sun rose. "
                 "A rod is used to catch pink salmon."),
    "rms_query": ("rms", 1.1, "Help the woman get back to her feet. "
                  "A pot of tea helps to pass the evening."),
    "awb_query": ("awb", 1.0, "The salt breeze came across from the sea. "
                  "The girl at the booth sold fifty bonds."),
}  # fmt: skip


def synthesise(voice: str, stretch: float, text: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}",
                        "-t", text, "-o", str(wav)], check=True)  # fmt: skip
        out = Path(tmp) / "out.ogg"
        with av.open(str(wav)) as source, av.open(str(out), "w", format="ogg") as sink:
            stream = sink.add_stream("libopus", rate=48_000)
            stream.bit_rate = 32_000
            stream.layout = "mono"
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
            for frame in source.decode(audio=0):
                for f in resampler.resample(frame):
                    for packet in stream.encode(f):
                        sink.mux(packet)
            for packet in stream.encode(None):
                sink.mux(packet)
        return out.read_bytes()


def main() -> None:
    for name, (voice, stretch, text) in SAMPLES.items():
        data = synthesise(voice, stretch, text)
        (HERE / f"{name}.ogg").write_bytes(data)
        print(f"{name}.ogg: {len(data):,} bytes")


if __name__ == "__main__":
    main()
