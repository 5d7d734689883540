"""Top-10 cosine matching over 1,000,000 vectors of dimension 256: HNSW against exact search.

The database ``consentry_bench_vectors`` is built once and kept between runs (``BENCH_VECTORS``
rows, default 1,000,000): a table shaped like a space's embeddings, loaded by binary COPY, and
an HNSW index on cosine distance. One client then times the production query, first as an
exact sequential scan (whose answers are the ground truth), then through the index on a cold
start (PostgreSQL restarted, the page cache dropped) at the service's ``hnsw.ef_search``, then
warm at several ``hnsw.ef_search`` values, reporting p50/p99 latency and recall@10 against the
exact answers.

The data is synthetic but clustered, because nearest neighbours in uniform random 256-d data
are all about equally far and recall on it means nothing. It is a seeded Gaussian mixture:
2,000 unit-length centres, each point its centre plus noise, L2-normalised. Like real embedding
spaces the noise is anisotropic, its variance falling as 1/k over the dimensions k = 1..256 (an
effective dimension of about 23 rather than 256); a point keeps a cosine of about 0.8 to its
centre, about 0.6 to another point of its cluster and about 0 to other clusters' points. The
1,000 queries are held-out draws from the same mixture, not rows of the table. Parameters,
figures and limits: docs/matching.md.
"""

from __future__ import annotations

import math
import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DATABASE = "consentry_bench_vectors"
SIZE = int(os.environ.get("BENCH_VECTORS", "1000000"))
DIM, CLUSTERS, QUERIES, SEED = 256, 2_000, 1_000, 20_250_601
NOISE = [math.sqrt(0.64 / 6.1243 / k) for k in range(1, DIM + 1)]  # total variance 0.64
DATA = f"gaussian mixture v1: seed {SEED}, {CLUSTERS} centres, {SIZE} points, d {DIM}"
# m 16 is pgvector's default; more links per node grow the index, the build and the pages each
# search step reads. ef_construction 128, twice the default, builds a better graph once so every
# query needs a smaller ef_search: at 1,000,000 rows 64 reached recall 0.943 at ef_search 100,
# 128 reached 0.981 (docs/matching.md).
M, EF_CONSTRUCTION = 16, 128
SHARED_BUFFERS = os.environ.get("BENCH_SHARED_BUFFERS", "2GB")
EF_SEARCH = (20, 40, 64, 80, 100, 200)
QUERY = (
    "SELECT work_id, 1 - (embedding <=> %s) AS score FROM bench_embedding "
    "ORDER BY embedding <=> %s LIMIT 10"
)


def unit(v: list[float]) -> list[float]:
    n = math.hypot(*v)
    return [x / n for x in v]


def mixture(seed: int, count: int) -> Iterator[list[float]]:
    """Yield ``count`` points of the mixture, drawn with their own seed."""
    centres_rng, rng = random.Random(SEED), random.Random(seed)
    centres = [unit([centres_rng.gauss(0, 1) for _ in range(DIM)]) for _ in range(CLUSTERS)]
    for _ in range(count):
        centre = centres[rng.randrange(CLUSTERS)]
        yield unit([c + rng.gauss(0, s) for c, s in zip(centre, NOISE, strict=True)])


def connect() -> Any:
    import psycopg
    from pgvector.psycopg import register_vector

    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    embedded.create_database(endpoint, DATABASE)
    conn = psycopg.connect(endpoint.conninfo(DATABASE), autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    return conn


def load(conn: Any) -> None:
    """Create and fill the table unless a kept one holds this very data."""
    comment = conn.execute(
        "SELECT obj_description(to_regclass('bench_embedding'), 'pg_class')"
    ).fetchone()
    if comment[0] == DATA:
        return
    from pgvector import Vector

    conn.execute("DROP TABLE IF EXISTS bench_embedding")
    conn.execute(
        "CREATE TABLE bench_embedding (id bigint PRIMARY KEY, work_id uuid NOT NULL, "
        f"embedding vector({DIM}) NOT NULL)"
    )
    t0, ids = time.perf_counter(), random.Random(SEED + 1)
    with conn.cursor() as cur, cur.copy("COPY bench_embedding FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "uuid", "vector"])
        for i, point in enumerate(mixture(SEED + 2, SIZE), start=1):
            copy.write_row((i, uuid.UUID(int=ids.getrandbits(128), version=4), Vector(point)))
            if i % 100_000 == 0 or i == SIZE:
                print(
                    f"  loaded {i:,}/{SIZE:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True
                )
    conn.execute("VACUUM (ANALYZE) bench_embedding")  # hint bits and visibility map, once
    conn.execute(f"COMMENT ON TABLE bench_embedding IS '{DATA}'")


def index(conn: Any) -> None:
    """Build the HNSW index unless it exists with these parameters."""
    options = conn.execute(
        "SELECT reloptions FROM pg_class WHERE oid = to_regclass('bench_embedding_hnsw')"
    ).fetchone()
    wanted = [f"m={M}", f"ef_construction={EF_CONSTRUCTION}"]
    if options and options[0] == wanted:
        return
    conn.execute("DROP INDEX IF EXISTS bench_embedding_hnsw")
    # pgvector says so in a notice if the graph outgrows memory during the build.
    conn.add_notice_handler(lambda d: print(f"  postgres: {d.message_primary}", flush=True))
    # pgvector builds far faster while the whole graph fits in maintenance_work_mem; the finished
    # index takes 1.3 kB a vector here and the graph in memory somewhat more, so allow 4 kB.
    conn.execute(f"SET maintenance_work_mem = '{max(1, math.ceil(SIZE * 4e-6))}GB'")
    # One worker plus the leader, which builds too: both cores.
    conn.execute("SET max_parallel_maintenance_workers = 1")
    print(f"  building HNSW (m {M}, ef_construction {EF_CONSTRUCTION})...", flush=True)
    t0 = time.perf_counter()
    conn.execute(
        "CREATE INDEX bench_embedding_hnsw ON bench_embedding "
        f"USING hnsw (embedding vector_cosine_ops) WITH ({', '.join(wanted)})"
    )
    print(f"  built HNSW index in {time.perf_counter() - t0:.0f} s", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(conn: Any, queries: list[Any]) -> tuple[list[float], list[list[tuple[uuid.UUID, float]]]]:
    """Time each query around execute + fetch, as a prepared statement on the server."""
    latencies, answers = [], []
    with conn.cursor() as cur:
        for q in queries:
            t0 = time.perf_counter()
            rows = cur.execute(QUERY, (q, q), prepare=True).fetchall()
            latencies.append((time.perf_counter() - t0) * 1000)
            answers.append(rows)
    return latencies, answers


def recall(found: list[Any], exact: list[Any]) -> float:
    """The share of the exact top-10 (by work id) that the searches found."""
    pairs = zip(found, exact, strict=True)
    return sum(len({r[0] for r in f} & {r[0] for r in e}) for f, e in pairs) / (10 * len(exact))


def plans(conn: Any, q: Any) -> list[str]:
    """The plan for this vector and the generic plan a prepared statement may settle on."""
    generic = f"EXPLAIN (GENERIC_PLAN) {QUERY.replace('%s', '$1')}"
    return [
        "\n".join(r[0] for r in conn.execute(f"EXPLAIN {QUERY}", (q, q))),
        "\n".join(r[0] for r in conn.execute(generic)),
    ]


def service_ef_search() -> int:
    """The ``hnsw.ef_search`` the service matches with."""
    import django

    django.setup()
    from governance.services.facts import EF_SEARCH

    return EF_SEARCH


def drop_page_cache() -> bool:
    """Drop the operating system's clean page cache (root only), so reads come from disk."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        print(f"  could not drop the page cache ({exc}): only PostgreSQL's buffers start cold")
        return False
    return True


def auto_conf_shared_buffers(conn: Any) -> str | None:
    """shared_buffers as ALTER SYSTEM set it (postgresql.auto.conf), if it did."""
    row = conn.execute(
        "SELECT setting FROM pg_file_settings WHERE name = 'shared_buffers'"
        " AND sourcefile LIKE '%%postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1"
    ).fetchone()
    return None if row is None else str(row[0])


def restore_shared_buffers(previous: str | None) -> None:
    with connect() as conn:
        if previous is None:
            conn.execute("ALTER SYSTEM RESET shared_buffers")
        else:
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{previous}'")
    print(f"shared_buffers goes back to {previous or 'its default'} at the cluster's next restart")


def cold(queries: list[Any], exact: list[Any]) -> tuple[bool, str | None]:
    """The service's search (its ef_search) on a cold start: PostgreSQL restarted and, where
    this process may, the page cache dropped, so the index's pages come from disk. Restarting
    would cut off other clients of the cluster, so it happens only when ``make bench`` started
    the cluster itself (or with BENCH_RESTART=1)."""
    from config import embedded

    if "1" not in (os.environ.get("BENCH_DB_STARTED"), os.environ.get("BENCH_RESTART")):
        print(
            "cold start: NOT measured, because the embedded PostgreSQL was running before "
            "make bench (stop it first, or set BENCH_RESTART=1 to let the benchmark restart it)",
            flush=True,
        )
        return False, None
    with connect() as conn:
        previous = auto_conf_shared_buffers(conn)
        # Room for the whole index in PostgreSQL's own buffers (256 MB in the embedded cluster
        # otherwise: most pages would come through the page cache, a copy each). It takes
        # effect at the restart below and is reset when the benchmark ends.
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}'")
    embedded.stop()
    dropped = drop_page_cache()
    embedded.start()
    with connect() as conn:
        ef_search = service_ef_search()
        conn.execute(f"SET hnsw.ef_search = {ef_search}")
        ms, found = run(conn, queries)
    where = "disk (page cache dropped)" if dropped else "the page cache"
    report(f"hnsw ef_search={ef_search} cold", ms, recall(found, exact))
    print(
        f"  cold start: PostgreSQL restarted, index read from {where}; first query "
        f"{ms[0]:.1f} ms, mean of the first 100 {sum(ms[:100]) / 100:.1f} ms, "
        f"of the last 100 {sum(ms[-100:]) / 100:.1f} ms",
        flush=True,
    )
    return True, previous


def report(label: str, ms: list[float], recall: float) -> None:
    print(
        f"{label:<22} p50 {percentile(ms, 50):7.2f} ms   p99 {percentile(ms, 99):7.2f} ms   "
        f"recall {recall:.3f}",
        flush=True,
    )


def main() -> None:
    from pgvector import Vector

    print(
        f"## vector matching ({SIZE:,} x {DIM}-d, {QUERIES} held-out queries, 1 client)", flush=True
    )
    t0 = time.perf_counter()
    with connect() as conn:
        load(conn)
        index(conn)
        table, idx = conn.execute(
            "SELECT pg_size_pretty(pg_table_size('bench_embedding')), "
            "pg_size_pretty(pg_relation_size('bench_embedding_hnsw'))"
        ).fetchone()
    print(
        f"  ready in {time.perf_counter() - t0:.0f} s: table {table}, HNSW index {idx}", flush=True
    )
    queries = [Vector(p) for p in mixture(SEED + 3, QUERIES)]

    with connect() as conn:
        conn.execute("SET enable_indexscan = off")
        assert all("hnsw" not in p for p in plans(conn, queries[0])), "exact must not use HNSW"
        run(conn, queries[:3])  # each scan reads the whole table: a few warm all it reads
        ms, exact = run(conn, queries)
        report("exact (seq scan)", ms, 1.0)
        first, tenth = (sum(e[k][1] for e in exact) / len(exact) for k in (0, 9))
        print(f"  (exact scores: mean best {first:.3f}, mean 10th {tenth:.3f})", flush=True)

    restarted, previous = cold(queries, exact)
    with connect() as conn:
        buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    print(f"warm runs with shared_buffers = {buffers}", flush=True)

    # Warm: a new session, because a prepared statement keeps the plan it was made with
    # whatever enable_indexscan says later; hnsw.ef_search, by contrast, is read when each scan
    # starts.
    service_ef = service_ef_search()
    with connect() as conn:
        assert all("Index Scan using bench_embedding_hnsw" in p for p in plans(conn, queries[0]))
        conn.execute(f"SET hnsw.ef_search = {max(EF_SEARCH)}")
        run(conn, queries)  # one untimed pass loads what the widest search visits
        smallest, service = None, None
        for ef in EF_SEARCH:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            ms, found = run(conn, queries)
            assert all(len(f) == 10 for f in found), "top-10 without a filter always fills"
            report(f"hnsw ef_search={ef}", ms, share := recall(found, exact))
            if smallest is None and share >= 0.95:
                smallest = (ef, percentile(ms, 99), share)
            if ef == service_ef:
                service = (ef, percentile(ms, 99), share)
        scan = conn.execute("SHOW hnsw.iterative_scan").fetchone()[0]
    if restarted:
        restore_shared_buffers(previous)
    print(f"hnsw.iterative_scan = {scan}: every query returned 10 rows, so plain top-10")
    print("  (no filter) needs no iterative scan")
    if smallest is None:
        print(f"no ef_search up to {max(EF_SEARCH)} reaches recall@10 0.95", flush=True)
    else:
        ef, p99, share = smallest
        print(f"smallest ef_search with recall@10 >= 0.95: {ef} (p99 {p99:.2f} ms, {share:.3f})")
    assert service is not None, f"the service's ef_search {service_ef} is among those measured"
    ef, p99, share = service
    met = "met" if p99 < 10 and share >= 0.95 else "NOT met"
    print(
        f"the service (ef_search {ef}): p99 {p99:.2f} ms, recall@10 {share:.3f}; "
        f"target p99 < 10 ms with recall@10 >= 0.95 (warm): {met}",
        flush=True,
    )


if __name__ == "__main__":
    main()
