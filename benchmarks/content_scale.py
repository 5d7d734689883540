"""The fingerprint store at catalogue scale (issue 15: "a check with a 30-s audio clip decided in
under 2 s with 10,000 registered tracks").

The database ``consentry_bench_content`` is built once and kept between runs, and grown when
``BENCH_CONTENT_SCALE_TRACKS`` (default 10,000) asks for more tracks than it holds (a smaller
number rebuilds it). Its postings are real: the Wesnoth soundtrack (Debian's
``wesnoth-1.16-music``) is fingerprinted through ``governance.content`` (``audio.decode`` +
``fingerprint.extract``); every track but the 10 that ``benchmarks.content`` never registers
(and one jingle under 6 s) is a base track, replicated into ``BENCH_CONTENT_SCALE_TRACKS``
distinct completed ``WorkContent`` rows, each for its own recording ``Work``. Content ``i`` is
base track ``i mod T``, replica ``r = i // T``, and its hashes are ``(hash + r * K) mod
2**HASH_BITS`` for an odd ``K``: a bijection of the hash space that keeps the distribution of
postings per hash but makes replicas strangers, so a query of a track truly matches only
replica 0. But the shifts spread the music's common hashes over the whole hash space, so a
lookup reads far fewer postings than in a catalogue of music hashing like the base tracks;
``BENCH_CONTENT_REPLICATION=popular`` (database ``consentry_bench_content_popular``) permutes
each replica's hashes among hashes about as common instead, which keeps them common. The
postings go into the service's packed store (``governance.services.fingerprint_store``) as
the compacted segment a catalogue of that size would have: one row per hash (shift 0), written
by binary COPY a range of hashes at a time. Growing the database writes the added tracks as a
second segment, measures the checks against the two, then compacts them into one
(``fingerprint_store.compact(full=True)``, timed: the cost of the largest merge the service
makes) unless ``BENCH_CONTENT_COMPACT`` is 0. Before loading, the disk needed is estimated
(twice the postings' 8 bytes, for a merge's new segment beside the old) and the benchmark stops
saying so unless ``BENCH_CONTENT_SPARE_GB`` (15) would remain free. Each step is timed and the
store's size printed (rows with their out-of-line ``data``, and the primary key).

Then checks, as a licensee's upload meets them: 30-s excerpts, MP3 128k, from random offsets
(seed 1234) of the registered tracks that ``benchmarks.content`` queries (``BENCH_CONTENT_
EXCERPTS``, 2 each) and of its 10 never-registered ones (2 each). For each vote query
(``BENCH_CONTENT_VARIANTS``: ``near``, the service's ``fingerprint_near_votes``; ``all``,
every vote without the stop list; ``dense``, the service's votes for the presence study's denser
query, ``dense_landmarks``, whose threshold decision is not one): the vote query alone and
the whole check (decode + fingerprint + votes + scoring + the best candidate's work and the
threshold decision), wall clock p50/p99, and CPU per check summed over the client process and
PostgreSQL's processes (``/proc``, the postmaster's tree: backends and parallel workers); the
rows each returns; recall (the right track first and at or above the threshold) and false
matches (a never-registered excerpt at or above it); and whether the variants decided alike.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
# "shift": replica r's hashes are (hash + r * K) mod 2**HASH_BITS, which spreads the music's
# common hashes over the whole hash space (each is common in one replica only). "popular":
# replica r's hashes are permuted among hashes about as common in the base tracks (the same
# power of two of postings), so a common hash stays common in every replica, as in a catalogue
# of music hashing like the base tracks; a query still truly matches only replica 0.
REPLICATION = os.environ.get("BENCH_CONTENT_REPLICATION", "shift")
assert REPLICATION in ("shift", "popular"), "BENCH_CONTENT_REPLICATION is shift or popular"
DATABASE = "consentry_bench_content" + ("" if REPLICATION == "shift" else "_popular")
TRACKS = int(os.environ.get("BENCH_CONTENT_SCALE_TRACKS", "10000"))
SPARE_GB = float(os.environ.get("BENCH_CONTENT_SPARE_GB", "15"))
EXCERPTS = int(os.environ.get("BENCH_CONTENT_EXCERPTS", "2"))  # per query track
SEED = 1234
K = 1_000_003  # odd: r -> r * K mod 2**HASH_BITS is one-to-one, so replicas' shifts differ
CLIP_SECONDS = 30
VARIANTS = os.environ.get("BENCH_CONTENT_VARIANTS", "near").split(",")
WORK_MEM = os.environ.get("BENCH_CONTENT_WORK_MEM", "")  # the server's unless set (e.g. 64MB)
assert WORK_MEM.isalnum() or not WORK_MEM, "BENCH_CONTENT_WORK_MEM is a size such as 64MB"
COMPACT = os.environ.get("BENCH_CONTENT_COMPACT", "1") != "0"
# What the 30-s clips go through before their MP3 encoding: nothing, or white or pink noise at
# 5 dB SNR (``benchmarks.content``'s transforms).
TRANSFORM = os.environ.get("BENCH_CONTENT_TRANSFORM", "mp3")
MIXES = ("mix_music_-10dB", "mix_speech_-10dB")  # 10 dB under music, or speech (espeak-ng)
assert TRANSFORM in ("mp3", "white_5dB", "pink_5dB", *MIXES), (
    "BENCH_CONTENT_TRANSFORM: mp3, white_5dB, pink_5dB, mix_music_-10dB, mix_speech_-10dB"
)
BYTES_PER_POSTING = 8.5  # the packed (key, frame) pair and its row's share, until measured
CHUNK_BITS = 18  # hashes a COPY writes at a time: 2**22 / 2**18 = 16 ranges


def env() -> dict[str, str]:
    return {**os.environ, "CONSENTRY_DATABASE_NAME": DATABASE, "LOG_LEVEL": "WARNING"}


def main() -> None:
    from benchmarks import content
    from config import embedded

    print(f"## content_scale: the fingerprint store with {TRACKS:,} registered tracks", flush=True)
    content._ensure_data()
    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    embedded.create_database(endpoint, DATABASE)
    for command in (["ledger_keygen"], ["migrate", "-v", "0"]):  # a fresh clone has no key yet
        subprocess.run([sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env(), check=True)
    # (its own process: Django set up on the benchmark's database)
    done = subprocess.run([sys.executable, "-m", "benchmarks.content_scale"], cwd=BASE_DIR,
                          env=env(), check=False)  # fmt: skip
    if done.returncode:  # what stopped it is printed above (the disk, or a traceback)
        sys.exit(done.returncode)


# --------------------------------------------------------------------------------------------
# The base tracks, fingerprinted once (cached under var/)
# --------------------------------------------------------------------------------------------


def base() -> dict[str, Any]:
    """The registered base tracks' fingerprints and the query split, computed once."""
    from benchmarks import content
    from governance.content import audio, fingerprint

    cache = BASE_DIR / "var" / f"bench_content_scale_{fingerprint.MODEL}_{fingerprint.VERSION}.npz"
    if cache.exists():
        with np.load(cache) as kept:
            return {k: kept[k] for k in kept.files}
    names, queried, negatives = content.split()
    registered = []
    hashes, times, seconds, sizes = [], [], [], []
    t0, cpu = time.perf_counter(), time.process_time()
    for name in (n for n in names if n not in negatives):
        data = (content.MUSIC / f"{name}.ogg").read_bytes()
        decoded = audio.decode(data)
        if decoded.seconds < fingerprint.MIN_SECONDS:
            print(f"  {name} ({decoded.seconds:.1f} s) is too short to register", flush=True)
            continue
        registered.append(name)
        fp = fingerprint.extract(decoded)
        hashes.append(fp.hashes.astype(np.int32))
        times.append(fp.times.astype(np.int32))
        seconds.append(decoded.seconds)
        sizes.append(len(data))
    print(f"fingerprinted {len(registered)} base tracks ({sum(seconds):,.0f} s of audio, "
          f"{sum(map(len, hashes)):,} postings) in {time.perf_counter() - t0:.0f} s "
          f"({time.process_time() - cpu:.0f} s CPU)", flush=True)  # fmt: skip
    kept = {
        "registered": np.array(registered), "queried": np.array(queried),
        "negatives": np.array(negatives), "seconds": np.array(seconds), "sizes": np.array(sizes),
        "counts": np.array([len(h) for h in hashes]),
        "hashes": np.concatenate(hashes), "times": np.concatenate(times),
    }  # fmt: skip
    cache.parent.mkdir(exist_ok=True)
    np.savez(cache, **kept)
    return kept


# --------------------------------------------------------------------------------------------
# The kept database
# --------------------------------------------------------------------------------------------


def superuser() -> Any:
    import psycopg

    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None
    return psycopg.connect(endpoint.conninfo(DATABASE), autocommit=True)


def describe(kept: dict[str, Any]) -> str:
    from governance.content import fingerprint

    tracks, postings = len(kept["registered"]), int(kept["counts"].sum())
    kind = f"K {K}" if REPLICATION == "shift" else "popular"
    return (f"content_scale v1: {fingerprint.MODEL} {fingerprint.VERSION}, {kind}, "
            f"{tracks} base tracks, {postings} postings")  # fmt: skip


def stored(conn: Any, kept: dict[str, Any]) -> int:
    """How many tracks the kept database holds for this very data (0: none, or other data)."""
    comment = conn.execute(
        "SELECT obj_description('governance_fingerprintpostings'::regclass, 'pg_class')"
    ).fetchone()[0]
    prefix = describe(kept) + ", tracks "
    if comment and comment.startswith(prefix):
        return int(comment[len(prefix) :])
    return 0


def sizes(conn: Any) -> tuple[int, int, int]:
    """(postings, table bytes with the rows' out-of-line data, index bytes)."""
    row = conn.execute(
        "SELECT (SELECT coalesce(sum(postings), 0) FROM governance_fingerprintsegment),"
        " pg_table_size('governance_fingerprintpostings'),"
        " pg_indexes_size('governance_fingerprintpostings')"
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


class Permutations:
    """Replica r's hash mapping for the "popular" replication: the identity for r = 0, else a
    seeded permutation within each class of hashes about as common in the base tracks (the
    same power of two of postings; the rarest classes of under 1,000 hashes merged into the
    one below, so that few hashes map to themselves)."""

    def __init__(self, hashes: np.ndarray, bits: int) -> None:
        counts = np.bincount(hashes.astype(np.int64), minlength=1 << bits)
        used = np.nonzero(counts)[0]
        level = np.floor(np.log2(counts[used])).astype(np.int64)
        while (level == level.max()).sum() < 1_000 and level.max() > 0:
            level[level == level.max()] -= 1
        self.classes = [used[level == v] for v in np.unique(level)]
        self.size = 1 << bits
        self.replica, self.table = -1, np.arange(self.size, dtype=np.int64)

    def of(self, replica: int) -> np.ndarray:
        if replica != self.replica:
            self.table = np.arange(self.size, dtype=np.int64)
            if replica:
                rng = np.random.default_rng(SEED + replica)
                for members in self.classes:
                    self.table[members] = rng.permutation(members)
            self.replica = replica
        return self.table


def build(kept: dict[str, Any]) -> bool:
    """Grow (or rebuild) the kept database to TRACKS tracks; whether it grew (the added tracks
    are then a second segment beside the first)."""
    from django.utils import timezone

    from governance.content import fingerprint, postings
    from governance.models import (
        ContentStatus,
        FingerprintSegment,
        FingerprintSource,
        Party,
        Work,
        WorkContent,
    )
    from governance.services import fingerprint_store

    conn = superuser()
    have = stored(conn, kept)
    if have == TRACKS:
        return False
    counts = kept["counts"]
    starts = np.concatenate(([0], np.cumsum(counts)))
    per_content = [int(counts[i % len(counts)]) for i in range(TRACKS)]
    if have > TRACKS or have == 0:
        print(f"(re)building {DATABASE} from nothing", flush=True)
        conn.execute("TRUNCATE governance_fingerprintpostings, governance_fingerprintsegment,"
                     " governance_fingerprintsource RESTART IDENTITY")  # fmt: skip
        conn.execute("DELETE FROM governance_workcontent")
        conn.execute("DELETE FROM governance_work")
        conn.execute("COMMENT ON TABLE governance_fingerprintpostings IS NULL")
        have = 0
    postings_now, table_now, index_now = sizes(conn)
    adding = sum(per_content[have:])
    per = (table_now + index_now) / postings_now if postings_now > 1_000_000 else BYTES_PER_POSTING
    # the new segment, and (compacting) a merged one beside the two until they are deleted
    need = adding * per + (postings_now + adding) * per * COMPACT * bool(have)
    free = shutil.disk_usage(BASE_DIR / "var").free
    print(f"{have:,} tracks stored ({postings_now:,} postings); adding {TRACKS - have:,} tracks "
          f"({adding:,} postings): needs about {gb(need)} of the {gb(free)} free "
          f"({per:.1f} B a posting)", flush=True)  # fmt: skip
    if free - need < SPARE_GB * 1e9:
        sys.exit(f"content_scale: {TRACKS:,} tracks need about {gb(need)} and {gb(free)} is "
                 f"free: fewer than {SPARE_GB:g} GB would remain. Set BENCH_CONTENT_SCALE_TRACKS "
                 f"lower or free disk.")  # fmt: skip

    now = timezone.now()
    party, _ = Party.objects.get_or_create(
        kind="label", name="content_scale benchmark label", defaults={"default_posture": "opt_in"}
    )
    registered, seconds, file_sizes = kept["registered"], kept["seconds"], kept["sizes"]
    keys: list[int] = []
    t0 = time.perf_counter()
    for lo in range(have, TRACKS, 2_000):
        batch = range(lo, min(TRACKS, lo + 2_000))
        works = Work.objects.bulk_create(
            Work(kind="recording", registrant=party,
                 title=f"{registered[i % len(registered)]} #{i // len(registered)}")
            for i in batch
        )  # fmt: skip
        contents = WorkContent.objects.bulk_create(
            WorkContent(
                work=w, kind="audio", size=int(file_sizes[i % len(registered)]),
                sha256=hashlib.sha256(f"content_scale {i}".encode()).hexdigest(),
                seconds=float(seconds[i % len(registered)]), codec="vorbis",
                status=ContentStatus.COMPLETED, submitted_by=party, model=fingerprint.MODEL,
                model_version=fingerprint.VERSION, vector_count=per_content[i],
                created_at=now, completed_at=now,
            )
            for i, w in zip(batch, works, strict=True)
        )  # fmt: skip
        sources = FingerprintSource.objects.bulk_create(
            FingerprintSource(content=c) for c in contents
        )
        keys.extend(int(s.pk) for s in sources)
    print(f"created {len(keys):,} works, contents and keys in {time.perf_counter() - t0:.0f} s",
          flush=True)  # fmt: skip
    assert max(keys) < 1 << 20

    # The added tracks as one segment of one row per hash (as compacted), written a range of
    # hashes at a time; each posting as one 64-bit number (hash, key, frame) to sort.
    segment = FingerprintSegment.objects.create(
        format=postings.FORMAT, shift=0, postings=adding, rows=0, contents=len(keys),
        created_at=timezone.now(),
    )  # fmt: skip
    mapping = Permutations(kept["hashes"], fingerprint.HASH_BITS)
    base_hashes = kept["hashes"].astype(np.int64)
    base_times = kept["times"].astype(np.uint64)
    assert int(base_times.max()) < 1 << 22
    chunks = 1 << (fingerprint.HASH_BITS - CHUNK_BITS)
    passes = max(1, math.ceil(adding * 8 / 2e9))  # at most about 2 GB of postings in memory
    t0, written, rows = time.perf_counter(), 0, 0
    for part in range(passes):
        mine = range(part * chunks // passes, (part + 1) * chunks // passes)
        held: dict[int, list[np.ndarray]] = {c: [] for c in mine}
        replicas = sorted({i // len(registered) for i in range(have, TRACKS)})
        for replica in replicas:
            if REPLICATION == "shift":
                mapped = (base_hashes + replica * K) & ((1 << fingerprint.HASH_BITS) - 1)
            else:
                mapped = mapping.of(replica)[base_hashes]
            tracks = [i for i in range(replica * len(registered), (replica + 1) * len(registered))
                      if have <= i < TRACKS]  # fmt: skip
            take = np.zeros(len(base_hashes), dtype=bool)
            key_of = np.zeros(len(base_hashes), dtype=np.uint64)
            for i in tracks:
                b = i % len(registered)
                take[starts[b] : starts[b + 1]] = True
                key_of[starts[b] : starts[b + 1]] = keys[i - have]
            packed = (
                (mapped[take].astype(np.uint64) << np.uint64(42))
                | (key_of[take] << np.uint64(22))
                | base_times[take]
            )
            chunk_of = (mapped[take] >> CHUNK_BITS).astype(np.int64)
            for c in mine:
                held[c].append(packed[chunk_of == c])
        for c in mine:
            keyed = np.sort(np.concatenate(held.pop(c)))
            flat = postings.Flat(
                (keyed >> np.uint64(42)).astype(np.int64),
                ((keyed >> np.uint64(22)) & np.uint64((1 << 20) - 1)).astype(np.int64),
                (keyed & np.uint64((1 << 22) - 1)).astype(np.int64),
            )
            made = postings.rows_of(flat, shift=0)
            fingerprint_store.copy_rows(segment.pk, made)
            written += len(flat)
            rows += len(made)
        print(f"  pass {part + 1}/{passes}: {written:,} postings in {rows:,} rows "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    assert written == adding
    segment.rows = rows
    segment.save(update_fields=["rows"])
    copy_s = time.perf_counter() - t0
    print(f"segment {segment.pk}: {written:,} postings in {rows:,} rows written in {copy_s:.0f} s "
          f"({written / copy_s:,.0f} postings a second)", flush=True)  # fmt: skip
    t0 = time.perf_counter()
    vacuum(conn)
    print(f"VACUUM (ANALYZE) in {time.perf_counter() - t0:.0f} s", flush=True)
    conn.execute(f"COMMENT ON TABLE governance_fingerprintpostings IS "
                 f"'{describe(kept)}, tracks {TRACKS}'")  # fmt: skip
    conn.close()
    return have > 0


def vacuum(conn: Any) -> None:
    conn.execute("VACUUM (ANALYZE) governance_fingerprintpostings")  # visibility, statistics
    conn.execute("VACUUM (ANALYZE) governance_fingerprintsegment")
    conn.execute("ANALYZE governance_fingerprintsource")
    conn.execute("ANALYZE governance_workcontent")
    conn.execute("ANALYZE governance_work")


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def clips(kept: dict[str, Any]) -> list[tuple[str, bool, bytes]]:
    """(track, registered?, MP3 bytes) of 30-s excerpts from random offsets (under noise, with
    ``BENCH_CONTENT_TRANSFORM``)."""
    from benchmarks import content

    rng = np.random.default_rng(SEED)
    noise = np.random.default_rng(SEED + 1)
    backgrounds: list[np.ndarray] = []
    under: list[str] = []
    if TRANSFORM == "mix_music_-10dB":
        # (the never-registered tracks: benchmarks.content's mix backgrounds are registered
        # here, and the louder of the two would rightly match)
        under = [str(n) for n in kept["negatives"]]
        backgrounds = [content._decode_file(content.MUSIC / f"{n}.ogg") for n in under]
    elif TRANSFORM == "mix_speech_-10dB":
        with tempfile.TemporaryDirectory() as folder:
            spoken = Path(folder) / "speech.wav"
            subprocess.run(["espeak-ng", "-s", "165", "-w", str(spoken), content.SPEECH],
                           check=True)  # fmt: skip
            backgrounds = [content._decode_file(spoken)]
    made = []
    for registered, names in ((True, kept["queried"]), (False, kept["negatives"])):
        for name in names:
            x = content._decode_file(content.MUSIC / f"{name}.ogg")
            for _ in range(EXCERPTS):
                start = int(rng.integers(0, len(x) - CLIP_SECONDS * content.RATE))
                y = x[start : start + CLIP_SECONDS * content.RATE]
                if TRANSFORM in MIXES:
                    i = int(noise.integers(len(backgrounds)))
                    if under and under[i] == str(name):  # never a track under itself
                        i = (i + 1) % len(backgrounds)
                    b = backgrounds[i]
                    at = int(noise.integers(0, max(1, len(b) - len(y))))
                    y = content._under(y, b[at:])
                elif TRANSFORM != "mp3":
                    y = content._noise(y, 5.0, TRANSFORM.startswith("pink"), noise)
                y = content._peak(y)
                made.append((str(name), registered, content._encoded(y, "libmp3lame", 128_000)))
    return made


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def votes_class(variant: str, spent: list[float], returned: list[int]) -> type:
    """``fingerprint_store.Votes`` as ``fingerprint_matches`` reads its votes for ``variant``
    (``near`` and ``dense``: the service's; ``all``: every vote, no stop list), timed: each
    check's time reading, pairing and grouping votes is added to ``spent[-1]``, the rows each
    question returns to ``returned[-1]``."""
    from governance.services import fingerprint_store

    assert variant in ("near", "all", "dense"), f"unknown variant {variant}"

    class Timed(fingerprint_store.Votes):
        def __init__(self, fp: Any, *, cap: int) -> None:
            t0 = time.perf_counter()
            super().__init__(fp, cap=2**62 if variant == "all" else cap)
            spent[-1] += time.perf_counter() - t0

        def near(self, needed: int) -> list[tuple[str, int, int, int]]:
            t0 = time.perf_counter()
            rows = super().near(1 if variant == "all" else needed)
            spent[-1] += time.perf_counter() - t0
            returned[-1] += len(rows)
            return rows

        def best(self, **kwargs: int) -> list[tuple[str, int, int, int]]:
            t0 = time.perf_counter()
            rows = super().best(**kwargs)
            spent[-1] += time.perf_counter() - t0
            returned[-1] += len(rows)
            return rows

    return Timed


# The denser query of the presence study (docs/matching.md, "Constellation presence under -10
# dB mixes"): 100 peaks a block over the fingerprint's 15 x 9, its 6 of 39 pairs, at 4 hop
# alignments, about 1,390 pairs a second where the service's query has 290: the candidate stage
# that study proposes. Measured here for what its lookups cost in the packed store; its
# coverage, against today's threshold, is not a decision (chance coverage rises with it).
DENSE_PEAKS, DENSE_SHIFTS = 100, 4


def dense_landmarks(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``landmarks.landmarks`` for the denser query: the union of the pairs of 4 hop
    alignments, sorted by (frame, hash), each pair once."""
    from governance.content import landmarks

    x = np.asarray(samples, dtype=np.float32)
    hashes, frames = [], []
    for shift in range(DENSE_SHIFTS):
        spec = landmarks.spectrogram(x[shift * landmarks.HOP // DENSE_SHIFTS :])
        h, t = landmarks.pairs(*landmarks.peaks(spec, per_block=DENSE_PEAKS))
        hashes.append(h)
        frames.append(t)
    key = np.unique((np.concatenate(frames).astype(np.int64) << landmarks.HASH_BITS)
                    | np.concatenate(hashes))  # fmt: skip
    mask = (1 << landmarks.HASH_BITS) - 1
    return (key & mask).astype(np.int32), (key >> landmarks.HASH_BITS).astype(np.int32)


def dense_extract(extract: Any, audio: Any, *, query: bool = True) -> Any:
    """``extract`` (``fingerprint.extract``) with the denser query's pairs
    (``dense_landmarks``), its map unchanged."""
    from governance.content import fingerprint

    fp = extract(audio, query=query)
    hashes, frames = dense_landmarks(audio.samples)
    return fingerprint.Fingerprint(hashes, frames, fp.seconds, fp.maxima, fp.map_frames)


def measure(kept: dict[str, Any]) -> None:
    from unittest import mock

    from django.db import connection

    from benchmarks.replay_service import tree_cpu
    from config import embedded
    from governance.content import fingerprint
    from governance.services import fingerprints

    endpoint = embedded.running_endpoint()
    assert endpoint is not None
    with superuser() as conn:
        postings, table, index = sizes(conn)
        segments = conn.execute(
            "SELECT count(*), coalesce(sum(rows), 0) FROM governance_fingerprintsegment"
        ).fetchone()
    print(f"{DATABASE}: {TRACKS:,} tracks, {postings:,} postings in {segments[0]} segments "
          f"({segments[1]:,} rows); table (with its out-of-line data) {gb(table)}, indexes "
          f"{gb(index)}; the stop list's cap {fingerprints.hash_cap()}", flush=True)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text, title FROM governance_work")
        titles = dict(cursor.fetchall())
        if WORK_MEM:
            cursor.execute(f"SET work_mem = '{WORK_MEM}'")
    queries = clips(kept)
    positives = sum(r for _, r, _ in queries)
    print(f"{len(queries)} clips of {CLIP_SECONDS} s ({TRANSFORM}, MP3 128k): {positives} of "
          f"registered tracks, {len(queries) - positives} of never-registered ones; work_mem "
          f"{WORK_MEM or 'the server default'}", flush=True)  # fmt: skip

    from governance.services import fingerprint_store

    decided: dict[str, list[str | None]] = {}
    for variant in VARIANTS:
        vote_wall: list[float] = [0.0]
        returned: list[int] = [0]
        timed = votes_class(variant, vote_wall, returned)
        check_wall, check_cpu, client_cpu = [], [], []
        right = wrong = false = presence_matched = 0
        decided[variant] = []
        dense = (
            mock.patch.object(
                fingerprint, "extract", functools.partial(dense_extract, fingerprint.extract)
            )
            if variant == "dense"
            else contextlib.nullcontext()
        )
        with mock.patch.object(fingerprint_store, "Votes", timed), dense:
            spec = fingerprints.audio_file_content(queries[0][2], name="audio")
            fingerprints.fingerprint_matches(spec)  # warm: the index's upper pages
            vote_wall.clear()
            returned.clear()
            load = os.getloadavg()[0]
            for name, registered, data in queries:
                vote_wall.append(0.0)
                returned.append(0)
                server0, client0 = tree_cpu(endpoint.pid), time.process_time()
                t0 = time.perf_counter()
                spec = fingerprints.audio_file_content(data, name="audio")
                matches = fingerprints.fingerprint_matches(spec)
                check_wall.append(time.perf_counter() - t0)
                client_cpu.append(time.process_time() - client0)
                check_cpu.append(client_cpu[-1] + tree_cpu(endpoint.pid) - server0)
                work = titles[matches[0][0]] if matches else None
                decided[variant].append(work)
                presence_matched += bool(matches) and (
                    dict(matches[0][1].detail).get("method") == "presence"
                )
                if registered:
                    right += work == f"{name} #0"
                    wrong += work is not None and work != f"{name} #0"
                else:
                    false += work is not None
        print(f"[{variant}] votes alone (read, paired, grouped; both questions where the check "
              f"asked both): wall p50 {percentile(vote_wall, 50):.2f} s, p99 "
              f"{percentile(vote_wall, 99):.2f} s; rows returned per clip median "
              f"{percentile(returned, 50):,.0f}, max {max(returned):,}", flush=True)  # fmt: skip
        print(f"[{variant}] whole check (decode + fingerprint + votes + scoring + decision): "
              f"wall p50 {percentile(check_wall, 50):.2f} s, p99 {percentile(check_wall, 99):.2f} "
              f"s; CPU (client + PostgreSQL) p50 {percentile(check_cpu, 50):.2f} s, p99 "
              f"{percentile(check_cpu, 99):.2f} s (client alone p50 "
              f"{percentile(client_cpu, 50):.2f} s); load average {load:.1f} at the start",
              flush=True)  # fmt: skip
        print(f"[{variant}] recall: {right}/{positives} right track first and matched, {wrong} "
              f"matched a wrong track; false matches {false}/{len(queries) - positives} "
              f"never-registered clips; {presence_matched} matched by presence",
              flush=True)  # fmt: skip
    if len(decided) > 1:
        same = len({tuple(d) for d in decided.values()}) == 1
        print(f"the variants' decisions are {'the same' if same else 'NOT the same'}", flush=True)


def fill_peaks(kept: dict[str, Any]) -> None:
    """Each stored content's peaks (``FingerprintSource.peaks``, what presence verification
    reads), where missing: replica 0 has its base track's own (``peaks.from_pairs`` of its
    pairs); replica r its base track's peaks with their bins permuted (a permutation of the 255
    bins drawn for r), so that, as its permuted hashes do, it holds as many peaks at the same
    frames as its base track but is a stranger to a query of it."""
    from governance.content import peaks

    conn = superuser()
    todo = conn.execute(
        "SELECT s.id, w.title FROM governance_fingerprintsource s"
        " JOIN governance_workcontent c ON c.id = s.content_id"
        " JOIN governance_work w ON w.id = c.work_id WHERE s.peaks IS NULL ORDER BY s.id"
    ).fetchall()
    if not todo:
        return
    t0 = time.perf_counter()
    counts = kept["counts"]
    starts = np.concatenate(([0], np.cumsum(counts)))
    names = [str(n) for n in kept["registered"]]
    own = {
        name: peaks.from_pairs(kept["hashes"][starts[b] : starts[b + 1]],
                               kept["times"][starts[b] : starts[b + 1]])
        for b, name in enumerate(names)
    }  # fmt: skip
    done = 0
    with conn.cursor() as cursor:
        for lo in range(0, len(todo), 500):
            batch = []
            for key, title in todo[lo : lo + 500]:
                name, replica = str(title).rsplit(" #", 1)
                bins, frames = own[name]
                r = int(replica)
                if r:
                    bins = np.random.default_rng(r).permutation(np.arange(1, 256))[bins - 1]
                    order = np.lexsort((bins, frames))
                    bins, frames = bins[order], frames[order]
                batch.append((peaks.pack(bins, frames), key))
            cursor.executemany("UPDATE governance_fingerprintsource SET peaks = %s WHERE id = %s",
                               batch)  # fmt: skip
            done += len(batch)
    print(f"peaks of {done:,} contents written in {time.perf_counter() - t0:.0f} s", flush=True)


def run() -> None:
    import django

    django.setup()
    from governance.services import fingerprint_store

    kept = base()
    grew = build(kept)
    fill_peaks(kept)
    measure(kept)
    if grew and COMPACT:
        t0, cpu = time.perf_counter(), time.process_time()
        done = fingerprint_store.compact(full=True)
        print(f"compacted: {done} in {time.perf_counter() - t0:.0f} s "
              f"({time.process_time() - cpu:.0f} s of the client's CPU)", flush=True)  # fmt: skip
        with superuser() as conn:
            vacuum(conn)
        measure(kept)


if __name__ == "__main__":
    run()
