"""Matching an item's audio: the vote queries of ``governance.services.fingerprints`` against
a catalog of ``BENCH_FP_TRACKS`` 3-minute recordings' postings (default 1,000: some 40 million
rows), then ``score_votes``; latency per query and whether the right recording came first.
Both queries are timed: every vote (``VOTES_SQL``, the rows ``MemoryIndex.votes`` gives) and
the service's, the votes near an offset that could pass (``NEAR_VOTES_SQL``).

The database ``consentry_bench_fingerprints`` is built once and kept between runs (its table's
comment records what it holds). ``BENCH_FP_REAL`` of the recordings (default 10) are seeded
synthetic music (``tests.content.synth``), fingerprinted for real; the queries are 8-s and 30-s
excerpts of them, from anywhere in the track, under white noise at 10 dB SNR, plus excerpts of
never-registered tracks. The other recordings are filler: as many postings a second as the real
ones, their hashes drawn from the real ones' hashes (so a query hash meets as many postings as
it would in a catalog of such music), their frames uniform over 3 minutes. Filler never agrees
on an offset, so it costs what a catalog costs without making a right answer harder; how often
a wrong real recording would pass the threshold is fpcore's benchmark's question
(``content_fingerprint``), not this one's.

The table is the service's row store as it was before the packed store (governance migration
0015; ``governance_fingerprintposting``: id, content_id, hash, t, and a B-tree on hash INCLUDE
(content_id, t)), created by this benchmark in its own database, loaded by binary COPY, the
index built afterwards; the queries are the ones the service then ran.
Each query is timed around the SQL's execute and fetch (one client, a prepared statement, after
one untimed pass), and around ``score_votes``; fingerprinting the query is not timed.
"""

from __future__ import annotations

import os
import struct
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

DATABASE = "consentry_bench_fingerprints"
TRACKS = int(os.environ.get("BENCH_FP_TRACKS", "1000"))
REAL = int(os.environ.get("BENCH_FP_REAL", "10"))
SECONDS, NEVER, QUERIES, SEED = 180.0, 20, 60, 20_261_204
BATCH = 200_000  # rows per COPY chunk


def connect() -> Any:
    import psycopg

    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    embedded.create_database(endpoint, DATABASE)
    return psycopg.connect(endpoint.conninfo(DATABASE), autocommit=True)


def real_tracks() -> tuple[list[np.ndarray], list[Any]]:
    """The real recordings' samples and fingerprints (decoded from WAV, as the job does)."""
    from governance.content import fingerprint
    from tests.content import synth

    signals = [synth.music(SEED + n, SECONDS) for n in range(REAL)]
    return signals, [fingerprint.fingerprint(synth.encode(s, "wav")) for s in signals]


def _copy_rows(copy: Any, start: int, content: bytes, hashes: np.ndarray, t: np.ndarray) -> None:
    """Binary COPY rows (id, content_id, hash, t) built with numpy, a chunk at a time."""
    row = np.dtype(
        [("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("c", "V16"),
         ("l3", ">i4"), ("h", ">i4"), ("l4", ">i4"), ("t", ">i4")]
    )  # fmt: skip
    rows = np.zeros(len(hashes), dtype=row)
    rows["n"], rows["l1"], rows["l2"], rows["l3"], rows["l4"] = 4, 8, 16, 4, 4
    rows["id"] = np.arange(start, start + len(hashes))
    rows["c"] = np.frombuffer(content, dtype="V16")[0]
    rows["h"], rows["t"] = hashes, t
    copy.write(rows.tobytes())


def load(conn: Any, fps: list[Any]) -> list[str]:
    """Create and fill the table unless a kept one holds this very catalog; the real
    recordings' content ids."""
    from governance.content import fingerprint

    rate = sum(len(f.hashes) for f in fps) / sum(f.seconds for f in fps)
    data = f"fingerprint votes v1: seed {SEED}, {TRACKS} tracks, {REAL} real, {rate:.1f}/s"
    ids = [str(uuid.UUID(int=SEED * 1000 + n, version=4)) for n in range(TRACKS)]
    comment = conn.execute(
        "SELECT obj_description(to_regclass('governance_fingerprintposting'), 'pg_class')"
    ).fetchone()
    if comment[0] == data:
        return ids[:REAL]
    conn.execute("DROP TABLE IF EXISTS governance_fingerprintposting")
    conn.execute(
        "CREATE TABLE governance_fingerprintposting (id bigint PRIMARY KEY,"
        " content_id uuid NOT NULL, hash integer NOT NULL, t integer NOT NULL)"
    )
    pool = np.concatenate([f.hashes for f in fps]).astype(np.int32)
    frames = int(SECONDS / fingerprint.FRAME_SECONDS)
    per_track = round(rate * SECONDS)
    rng = np.random.default_rng(SEED)
    t0, written = time.perf_counter(), 0
    with (
        conn.cursor() as cur,
        cur.copy("COPY governance_fingerprintposting FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
        for n, content in enumerate(ids):
            if n < REAL:
                hashes, t = fps[n].hashes.astype(np.int32), fps[n].times.astype(np.int32)
            else:
                hashes = rng.choice(pool, per_track)
                t = np.sort(rng.integers(0, frames, per_track)).astype(np.int32)
            for s in range(0, len(hashes), BATCH):
                part = slice(s, s + BATCH)
                _copy_rows(copy, written + 1, uuid.UUID(content).bytes, hashes[part], t[part])
                written += len(hashes[part])
            if (n + 1) % 100 == 0 or n + 1 == TRACKS:
                print(f"  loaded {n + 1:,}/{TRACKS:,} tracks, {written:,} rows "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
        copy.write(struct.pack(">h", -1))
    t0 = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute(
        "CREATE INDEX fingerprint_hash ON governance_fingerprintposting (hash)"
        " INCLUDE (content_id, t)"
    )
    conn.execute("VACUUM (ANALYZE) governance_fingerprintposting")
    print(f"  built the index in {time.perf_counter() - t0:.0f} s", flush=True)
    conn.execute(f"COMMENT ON TABLE governance_fingerprintposting IS '{data}'")
    return ids[:REAL]


def queries(signals: list[np.ndarray], seconds: float) -> list[tuple[int | None, Any]]:
    """(the real recording's number or None, fingerprint) of excerpts under noise."""
    from governance.content import fingerprint
    from tests.content import synth

    rng = np.random.default_rng(SEED + int(seconds))
    out: list[tuple[int | None, Any]] = []
    for q in range(QUERIES):
        n = q % len(signals)
        start = float(rng.uniform(0, SECONDS - seconds))
        piece = signals[n][int(start * synth.RATE) : int((start + seconds) * synth.RATE)]
        noisy = synth.add_white_noise(piece, 10, q)
        out.append((n, fingerprint.fingerprint(synth.encode(noisy, "wav"))))
    for q in range(NEVER):
        piece = synth.music(SEED + 10_000 + q, seconds)
        out.append((None, fingerprint.fingerprint(synth.encode(piece, "wav"))))
    return out


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# The row store's vote queries, as the service ran them before the packed store (migration
# 0015 of governance): this benchmark keeps its own table of one row per posting.
VOTES_SQL = (
    "SELECT p.content_id::text, p.t - q.t, q.t / %(block)s, count(*)"
    " FROM unnest(%(hashes)s::int[], %(times)s::int[]) AS q(hash, t)"
    " JOIN governance_fingerprintposting p USING (hash) GROUP BY 1, 2, 3"
)
NEAR_VOTES_SQL = (
    "WITH q AS MATERIALIZED"
    " (SELECT * FROM unnest(%(hashes)s::int[], %(times)s::int[]) AS q(hash, t)),"
    " rare AS (SELECT d.hash FROM (SELECT DISTINCT hash FROM q) d WHERE (SELECT count(*) FROM"
    " (SELECT 1 FROM governance_fingerprintposting x WHERE x.hash = d.hash LIMIT %(over)s) y)"
    " <= %(cap)s),"
    " v AS (SELECT p.content_id, p.t - q.t AS o, q.t / %(block)s AS b, count(*) AS n"
    " FROM q JOIN rare USING (hash) JOIN governance_fingerprintposting p USING (hash)"
    " GROUP BY 1, 2, 3),"
    " w AS (SELECT content_id, o, b, n, count(*) OVER (PARTITION BY content_id ORDER BY o"
    " RANGE BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS near FROM v)"
    " SELECT content_id::text, o, b, n FROM w WHERE near >= %(needed)s"
)


def measure(
    conn: Any, ids: list[str], label: str, asked: list[tuple[int | None, Any]], *, near: bool
) -> None:
    """Time one query (every vote, or the service's: the votes near a passing offset)."""
    from governance.content import fingerprint

    # the service's stop list, for this catalogue's postings
    stored = conn.execute("SELECT count(*) FROM governance_fingerprintposting").fetchone()[0]
    cap = fingerprint.hash_cap(int(stored))

    def votes(fp: Any) -> list[tuple[str, int, int, int]]:
        params = {"block": fingerprint.FRAMES_PER_BLOCK, "hashes": fp.hashes.tolist(),
                  "times": fp.times.tolist()}  # fmt: skip
        if near:
            params |= {"needed": fingerprint.threshold(fp.seconds), "cap": cap, "over": cap + 1}
        rows = conn.execute(NEAR_VOTES_SQL if near else VOTES_SQL, params, prepare=True)
        return [(str(c), o, b, n) for c, o, b, n in rows.fetchall()]

    for _, fp in asked[:5]:
        votes(fp)  # untimed: the plan and the pages the first queries read
    sql_ms, score_ms, rows, right, passed = [], [], [], 0, 0
    margins: list[int] = []  # never-registered: best score minus threshold (>= 0 passes)
    false_real = 0  # never-registered passing against a real recording (not filler)
    for n, fp in asked:
        t0 = time.perf_counter()
        found = votes(fp)
        t1 = time.perf_counter()
        ranked = fingerprint.score_votes(found)
        t2 = time.perf_counter()
        sql_ms.append((t1 - t0) * 1000)
        score_ms.append((t2 - t1) * 1000)
        rows.append(len(found))
        needed = fingerprint.threshold(fp.seconds)
        if n is None:
            margins.append(ranked[0].score - needed if ranked else -needed)
            if ranked and ranked[0].score >= needed:
                false_real += ranked[0].key in ids
        elif ranked and ranked[0].key == ids[n]:
            right += 1
            passed += ranked[0].score >= needed
    registered = sum(n is not None for n, _ in asked)
    print(
        f"{label:<20} SQL p50 {percentile(sql_ms, 50):6.1f} ms  p99 {percentile(sql_ms, 99):6.1f}"
        f" ms   score_votes p50 {percentile(score_ms, 50):5.1f} ms   rows p50"
        f" {int(percentile(rows, 50)):,}   top-1 {right}/{registered}, passing {passed}"
        f"   never-registered: {sum(m >= 0 for m in margins)}/{len(margins)} passing"
        f" ({false_real} on a real recording; best {max(margins):+d} from the threshold)",
        flush=True,
    )


def main() -> None:
    import django

    django.setup()  # (the vote query is the service's own, in a module that needs Django)
    print(f"## fingerprint votes ({TRACKS:,} recordings of 3 min, {REAL} real)", flush=True)
    t0 = time.perf_counter()
    signals, fps = real_tracks()
    with connect() as conn:
        ids = load(conn, fps)
        count, table, index = conn.execute(
            "SELECT reltuples::bigint, pg_size_pretty(pg_table_size(oid)),"
            " pg_size_pretty(pg_relation_size('fingerprint_hash')) FROM pg_class"
            " WHERE oid = 'governance_fingerprintposting'::regclass"
        ).fetchone()
        print(f"  ready in {time.perf_counter() - t0:.0f} s: {count:,} postings, table {table},"
              f" index {index}", flush=True)  # fmt: skip
        for seconds in (8.0, 30.0):
            asked = queries(signals, seconds)
            measure(conn, ids, f"{seconds:g}-s, every vote", asked, near=False)
            measure(conn, ids, f"{seconds:g}-s, near votes", asked, near=True)
