"""Content import into a fresh database: ``manage.py import_content`` of a folder of 3-minute
MP3 files (``BENCH_CONTENT_TRACKS``, 20 by default), each named by the ISRC of a recording the
label registered, fingerprinted in the command's one process and stored (postings by binary
COPY, a ``work_content`` ledger entry each); then the same folder again, when every file is
skipped by its SHA-256.

The tracks are synthesised (a seeded melody with harmonics and noise, 44.1 kHz mono) and encoded
at 128 kbit/s with PyAV before the clock starts; with ``BENCH_CONTENT_FORMAT=flac``, in stereo
(a second voice) as 16-bit FLAC, as a label delivers its masters. Wall time of the whole command
(process start, Django set-up, reading, decoding, fingerprinting, writing and ledgering), tracks
per second, the postings and composition vectors stored; then again with ``--jobs 2`` (two
processes fingerprint while the command's own stores). The issue's target: at least 4 tracks a
second per process. Besides the wall time, the CPU seconds of the command (its process and, with
``--jobs``, its pool's: the children's rusage) and of the embedded PostgreSQL (its postmaster's
processes, from ``/proc``), so that a run on a loaded machine still says what a track costs; and
a track's marginal cost, the folder less its first half, each into an empty store, the pair
alternated ``BENCH_CONTENT_REPEAT`` times (5) and the median given. First, one track's CPU time
split between decoding, the fingerprint and the composition vectors, measured in the benchmark's
process; then the same for a stereo track at 192 kbit/s (as music is sold: the folder's tracks
are mono) and for a stereo 16-bit FLAC master.
"""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.catalog_import import LABEL, SETUP, catalog_csv
from benchmarks.ledger_append import BASE_DIR, drop, scratch_env

TRACKS = int(os.environ.get("BENCH_CONTENT_TRACKS", "20"))
# The folder's files: "mp3" (mono, 128 kbit/s) or "flac" (stereo 16-bit masters).
FORMAT = os.environ.get("BENCH_CONTENT_FORMAT", "mp3")
if FORMAT not in ("mp3", "flac"):
    raise SystemExit(f"BENCH_CONTENT_FORMAT must be mp3 or flac, not {FORMAT!r}")
# How many times the folder and its first half are imported, alternated (the marginal figure).
REPEAT = max(1, int(os.environ.get("BENCH_CONTENT_REPEAT", "5")))
SECONDS = 180
RATE = 44_100

COUNTS = """
import django; django.setup()
from governance.models import FingerprintSegment, WorkContent, WorkEmbedding
from governance.services import fingerprint_store
print(WorkContent.objects.filter(status="completed").count(), fingerprint_store.stored_postings(),
      WorkEmbedding.objects.filter(space__name="composition").count(),
      FingerprintSegment.objects.count())
"""
FORGET = """
import django; django.setup()
from governance.models import WorkContent, WorkEmbedding
WorkContent.objects.all().delete()  # and their postings: the next run imports them again
from governance.services import fingerprint_store
fingerprint_store.compact(full=True)  # (the deleted contents' postings dropped)
WorkEmbedding.objects.filter(space__name="composition").delete()  # the works' (not contents')
"""
# The command's storing alone: every file fingerprinted once, first, and the command run with
# those fingerprints (content.extract cached by the bytes' SHA-256), its files stored IMPORT_BATCH
# at a time (as it does) and one at a time (as before 3470803), alternated in one process.
STORE = """
import hashlib, os, statistics, sys, time
from io import StringIO
from unittest import mock
import django; django.setup()
from benchmarks.content_import import FORGET, postgres_cpu
from django.core.management import call_command
from governance.management.commands import import_content
from governance.services import content

folder, party, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
real, cache = content.extract, {}
for name in sorted(os.listdir(folder)):
    data = open(os.path.join(folder, name), "rb").read()
    cache[hashlib.sha256(data).digest()] = real(data)
tracks = len(cache)
figures = {8: [], 1: []}
with mock.patch.object(content, "extract", lambda data: cache[hashlib.sha256(data).digest()]):
    for _ in range(repeat):
        for batch in figures:
            exec(FORGET)
            pg, t0 = postgres_cpu(), time.process_time()
            with mock.patch.object(import_content, "IMPORT_BATCH", batch):
                call_command("import_content", folder, "--party", party, stdout=StringIO(),
                             stderr=StringIO())
            figures[batch].append(((time.process_time() - t0) / tracks,
                                   (postgres_cpu() - pg) / tracks))
for batch, runs in figures.items():
    cpu = statistics.median(c for c, _ in runs)
    pg = statistics.median(p for _, p in runs)
    each = ", ".join(f"{c:.3f}" for c, _ in runs)
    print(f"storing alone, {batch} file(s) a transaction: {cpu:.3f} s of the command's CPU a "
          f"track (median of {repeat}: {each}), {pg:.3f} s of PostgreSQL's")
"""


def _melody(seed: int, *, stereo: bool) -> np.ndarray:
    """A 3-minute melody (a new pitch every quarter second), float32, (channels, samples);
    ``stereo``: a second voice a fifth above on the right channel."""
    rng = np.random.default_rng(seed)
    n, note = SECONDS * RATE, RATE // 4
    pitches = np.repeat(rng.uniform(110, 1760, size=n // note + 1), note)[:n]
    phase = 2 * np.pi * np.cumsum(pitches) / RATE
    signal = 0.4 * np.sin(phase) + 0.2 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)
    signal = (signal + 0.01 * rng.standard_normal(n)).astype(np.float32)
    if not stereo:
        return signal[None, :]
    right = 0.4 * np.sin(1.5 * phase) + 0.1 * np.sin(3 * phase) + 0.01 * rng.standard_normal(n)
    return np.stack([signal, right.astype(np.float32)])


def _encode(channels: np.ndarray, fmt: str, codec: str, bit_rate: int | None) -> bytes:
    import av

    layout = "stereo" if len(channels) == 2 else "mono"
    pcm = codec != "libmp3lame"  # lossless: 16-bit samples, as a master is delivered
    if pcm:
        channels = np.round(np.clip(channels, -1.0, 1.0) * 32767).astype(np.int16)
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=RATE, layout=layout)
        assert isinstance(stream, av.AudioStream)  # (the codec is named by a variable)
        if bit_rate:
            stream.bit_rate = bit_rate
        step = 1152 * 16
        for i in range(0, channels.shape[1], step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(channels[:, i : i + step]),
                                               format="s16p" if pcm else "fltp",
                                               layout=layout)  # fmt: skip
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def track_mp3(seed: int, *, stereo: bool = False) -> bytes:
    """The seed's melody as MP3 at 128 kbit/s; ``stereo``, at 192 kbit/s (as music is sold)."""
    return _encode(_melody(seed, stereo=stereo), "mp3", "libmp3lame",
                   192_000 if stereo else 128_000)  # fmt: skip


def track_flac(seed: int) -> bytes:
    """The seed's melody in stereo as 16-bit FLAC at 44.1 kHz: a master, as labels deliver."""
    return _encode(_melody(seed, stereo=True), "flac", "flac", None)


def postgres_cpu() -> float:
    """CPU seconds of the embedded PostgreSQL so far: its postmaster's own and reaped children's
    (the backends that ended), and its live children's (Linux ``/proc``)."""
    from config import embedded

    pid = int((embedded.pgdata_dir() / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")

    def fields(p: int) -> list[int]:
        stat = Path(f"/proc/{p}/stat").read_text()
        return [int(v) for v in stat[stat.rindex(")") + 2 :].split()[11:15]]

    total = sum(fields(pid))
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            total += sum(fields(int(child))[:2])
        except FileNotFoundError:  # ended meanwhile: counted in the postmaster's cutime
            continue
    return total / tick


def run_command(
    env: dict[str, str], folder: Path, jobs: int = 1
) -> tuple[float, str, tuple[float, float]]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = postgres_cpu()
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "import_content", str(folder), "--party", LABEL,
         "--jobs", str(jobs)],
        cwd=BASE_DIR, env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    server = postgres_cpu() - server
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = after.ru_utime - children.ru_utime, after.ru_stime - children.ru_stime
    command = user + system
    if result.returncode != 0:
        raise RuntimeError(f"import failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    cpu = (f"CPU: the command {command:.1f} s ({user:.1f} user, {system:.1f} system), "
           f"PostgreSQL {server:.1f} s; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    return wall, f"{result.stdout.strip().splitlines()[-1]}; {cpu}", (command, server)


def cpu_split(data: bytes, runs: int = 3, label: str = "one track") -> None:
    """CPU seconds of one track's decoding, fingerprint and composition vectors, in this
    process (the composition module's librosa warmed up first)."""
    from governance.content import audio, composition, fingerprint

    warm = np.random.default_rng(0).standard_normal(31 * audio.SAMPLE_RATE).astype(np.float32)
    composition.embed_reference(0.1 * warm, audio.SAMPLE_RATE)
    for _ in range(runs):
        t0 = time.process_time()
        decoded = audio.decode(data)
        t1 = time.process_time()
        fingerprint.extract(decoded, query=False)
        t2 = time.process_time()
        composition.embed_reference(decoded.samples, audio.SAMPLE_RATE)
        t3 = time.process_time()
        print(f"{label}, CPU: decode {t1 - t0:.3f} s, fingerprint {t2 - t1:.3f} s, "
              f"composition vectors {t3 - t2:.3f} s", flush=True)  # fmt: skip


def main() -> None:
    kind = "MP3 128 kbit/s" if FORMAT == "mp3" else "stereo 16-bit FLAC"
    print(f"## content import ({TRACKS} tracks of {SECONDS} s, {kind})", flush=True)
    cpu_split(track_mp3(0))
    cpu_split(track_mp3(0, stereo=True), label="one stereo track (192 kbit/s)")
    cpu_split(track_flac(0), label="one stereo FLAC master (16-bit)")
    env, name = scratch_env()
    try:
        subprocess.run([sys.executable, "-c", SETUP % LABEL], cwd=BASE_DIR, env=env, check=True)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "audio"
            folder.mkdir()
            catalog = Path(tmp) / "catalog.csv"
            catalog.write_bytes(catalog_csv(TRACKS))
            subprocess.run([sys.executable, "manage.py", "import_catalog", str(catalog),
                            "--party", LABEL], cwd=BASE_DIR, env=env, check=True,
                           capture_output=True)  # fmt: skip
            t0 = time.perf_counter()
            isrcs = [line.split(",")[1] for line in catalog.read_text().splitlines()[1:]]
            for seed, isrc in enumerate(isrcs):
                data = track_mp3(seed) if FORMAT == "mp3" else track_flac(seed)
                (folder / f"{isrc}.{FORMAT}").write_bytes(data)
            size = sum(p.stat().st_size for p in folder.iterdir())
            print(f"encoded {TRACKS} files ({size / 1e6:.1f} MB) in "
                  f"{time.perf_counter() - t0:.1f} s (not timed below)", flush=True)  # fmt: skip
            wall, summary, (command, server) = run_command(env, folder)
            counts = subprocess.run([sys.executable, "-c", COUNTS], cwd=BASE_DIR, env=env,
                                    check=True, capture_output=True, text=True)  # fmt: skip
            completed, postings, vectors, segments = map(int, counts.stdout.split())
            print(f"import: {wall:.1f} s wall, {TRACKS / wall:.2f} tracks/s; {completed} "
                  f"completed, {postings:,} postings ({postings / max(completed, 1):,.0f} a "
                  f"track) in {segments} segments of the packed store, {vectors:,} composition "
                  f"vectors; {summary}", flush=True)  # fmt: skip
            again, summary, (skipped, _) = run_command(env, folder)
            print(f"again (every file skipped by its SHA-256): {again:.1f} s wall; {summary}",
                  flush=True)  # fmt: skip
            # Start-up, Django and the SHA-256 checks subtracted; what a process pays once when
            # it fingerprints its first file (imports, numba's cache) is not.
            print(f"a track: {(command - skipped) / TRACKS:.3f} s of the command's CPU, "
                  f"{server / TRACKS:.3f} s of PostgreSQL's", flush=True)  # fmt: skip
            # The first half again, into an empty store: the difference is what the second
            # half's tracks cost, without start-up and what a process pays once (imports,
            # numba's cache, the first file): the "tracks a second per process". The
            # pair is run REPEAT times, alternated, and the median given: one difference of
            # two runs moves by a few hundredths of a second a track with the machine's load.
            half = TRACKS // 2
            if half:
                first = Path(tmp) / "first-half"
                first.mkdir()
                for path in sorted(folder.iterdir())[:half]:
                    (first / path.name).symlink_to(path)
                marginals: list[tuple[float, float, float]] = []
                for round_ in range(REPEAT):
                    if round_:
                        subprocess.run([sys.executable, "-c", FORGET], cwd=BASE_DIR, env=env,
                                       check=True)  # fmt: skip
                        wall, summary, (command, server) = run_command(env, folder)
                        print(f"again, all {TRACKS}: {wall:.1f} s wall; {summary}", flush=True)
                    subprocess.run([sys.executable, "-c", FORGET], cwd=BASE_DIR, env=env,
                                   check=True)  # fmt: skip
                    wall_half, summary, (command_half, server_half) = run_command(env, first)
                    print(f"the first {half} alone: {wall_half:.1f} s wall; {summary}",
                          flush=True)  # fmt: skip
                    marginals.append(((command - command_half) / (TRACKS - half),
                                      (server - server_half) / (TRACKS - half),
                                      (wall - wall_half) / (TRACKS - half)))  # fmt: skip
                    cpu, pg, elapsed = marginals[-1]
                    print(f"a track, marginal ({TRACKS} tracks less {half}): {cpu:.3f} s of "
                          f"the command's CPU ({1 / cpu:.2f} tracks a CPU second), {pg:.3f} s "
                          f"of PostgreSQL's; {elapsed:.3f} s wall", flush=True)  # fmt: skip
                if REPEAT > 1:
                    cpu, pg, elapsed = (float(m) for m in np.median(np.array(marginals), axis=0))
                    print(f"a track, marginal, median of {REPEAT}: {cpu:.3f} s of the "
                          f"command's CPU ({1 / cpu:.2f} tracks a CPU second), {pg:.3f} s of "
                          f"PostgreSQL's; {elapsed:.3f} s wall", flush=True)  # fmt: skip
            subprocess.run([sys.executable, "-c", FORGET], cwd=BASE_DIR, env=env, check=True)
            stored = subprocess.run(
                [sys.executable, "-c", STORE, str(folder), LABEL, str(REPEAT)], cwd=BASE_DIR,
                env=env, check=True, capture_output=True, text=True,
            )  # fmt: skip
            print(stored.stdout.strip(), flush=True)
            subprocess.run([sys.executable, "-c", FORGET], cwd=BASE_DIR, env=env, check=True)
            wall, summary, _ = run_command(env, folder, jobs=2)
            print(f"import --jobs 2: {wall:.1f} s wall, {TRACKS / wall:.2f} tracks/s; {summary}",
                  flush=True)  # fmt: skip
    finally:
        drop(name)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
