"""A manifest decided and ledgered by 1, 2 and 4 Celery worker processes: items/s and CPU per
item, by process.

A fresh database with a ``BENCH_SCALE_CATALOG``-recording catalog (each with its master share
and the label's rule allowing ``analyze``), gunicorn (one process: it only takes the manifest
and answers its status), the ledger sequencer and, for each count of ``BENCH_SCALE_WORKERS``, a
Celery worker started with ``--concurrency`` that count, on the embedded PostgreSQL and its
broker. Each count decides its own manifest of ``BENCH_SCALE_ITEMS`` ISRC items (ISRCs of the
catalog in turn), submitted as ``make run``'s clients do (``POST /api/v1/use-requests/`` with
a CSV); the worker is stopped before the next count starts.

Printed for each count: the time from submission to the request's completion (every item
decided, each decision and its ledger entry committed) and to the sequencer's integration of
the last entry, items per second, and the CPU time of each process tree over the run divided by
the items (``/proc``, as ``check_cpu``): the Celery worker (its main process and the pool's),
gunicorn, PostgreSQL (every process of the cluster: run it while nothing else uses the cluster)
and the sequencer; and the 1-minute load average before and after. The machine's two cores are
shared, so the CPU per item is the figure to compare; items/s on two cores cannot grow with
more than two worker processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.check_cpu import catalog_token, load, settle, tree_cpu
from benchmarks.ledger_append import BASE_DIR, drop, scratch_env
from benchmarks.ledger_proofs import free_port
from benchmarks.requests_pipeline import isrc

WORKS = int(os.environ.get("BENCH_SCALE_CATALOG", "20000"))
ITEMS = int(os.environ.get("BENCH_SCALE_ITEMS", "20000"))
WORKERS = [int(n) for n in os.environ.get("BENCH_SCALE_WORKERS", "1,2,4").split(",")]


def _get(base: str, token: str, path: str) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        base + path, headers={"Authorization": f"Api-Key {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        document: dict[str, object] = json.loads(response.read())
    return document


def _pending(conninfo: str) -> int:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM ledger_pending").fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    from config import embedded

    print(f"## Manifests by worker processes ({ITEMS:,} items, {WORKS:,}-work catalog)", flush=True)
    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    env, name = scratch_env()
    conninfo = endpoint.conninfo(name)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        token = catalog_token(env, WORKS)
        with tempfile.TemporaryDirectory() as tmp:
            settle(env, conninfo)
            manifest = Path(tmp) / "manifest.csv"
            manifest.write_text("isrc\n" + "\n".join(isrc(n % WORKS) for n in range(ITEMS)))
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            gunicorn = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config",
                 "config/gunicorn.py", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
                cwd=BASE_DIR, env={**env, "WEB_CONCURRENCY": "1"},
            )  # fmt: skip
            procs.append(gunicorn)
            sequencer = subprocess.Popen(
                [sys.executable, "manage.py", "ledger_sequencer"], cwd=BASE_DIR, env=env
            )
            procs.append(sequencer)
            for _ in range(150):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2)  # noqa: S310
                    break
                except OSError:
                    time.sleep(0.2)
            print(
                "| worker processes | completed s | integrated s | items/s | worker | gunicorn | "
                "PostgreSQL | sequencer | total CPU ms per item | load before → after |",
                flush=True,
            )
            print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
            for count in WORKERS:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency",
                     str(count), "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
                    cwd=BASE_DIR, env=env,
                )  # fmt: skip
                procs.append(worker)
                time.sleep(8)  # the worker and its pool start
                roots = {
                    "worker": worker.pid,
                    "gunicorn": gunicorn.pid,
                    "postgresql": endpoint.pid,
                    "sequencer": sequencer.pid,
                }
                load0, cpu0 = load(), tree_cpu(roots)
                t0 = time.perf_counter()
                out = subprocess.run(
                    ["curl", "-sf", "-H", f"Authorization: Api-Key {token}", "-F", "use=analyze",
                     "-F", f"manifest=@{manifest}", base + "/api/v1/use-requests/"],
                    check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
                submitted = tree_cpu({"gunicorn": gunicorn.pid})["gunicorn"]
                status = json.loads(out)
                polls = 0
                while status["status"] != "completed":
                    time.sleep(0.5)
                    status = _get(base, token, str(status["status_url"]))
                    polls += 1
                completed = time.perf_counter() - t0
                while _pending(conninfo):
                    time.sleep(0.1)
                integrated = time.perf_counter() - t0
                cpu1, load1 = tree_cpu(roots), load()
                summary = status["summary"]
                if summary != {"allow": ITEMS}:
                    raise SystemExit(f"{count} worker processes: summary {summary}")
                per = {k: (cpu1[k] - cpu0[k]) / ITEMS * 1000 for k in roots}
                print(
                    f"| {count} | {completed:.1f} | {integrated:.1f} | "
                    f"{ITEMS / integrated:,.0f} | {per['worker']:.2f} | {per['gunicorn']:.2f} | "
                    f"{per['postgresql']:.2f} | {per['sequencer']:.2f} | "
                    f"{sum(per.values()):.2f} | {load0:.1f} → {load1:.1f} |",
                    flush=True,
                )
                intake = (submitted - cpu0["gunicorn"]) / ITEMS * 1000
                polling = (cpu1["gunicorn"] - submitted) / max(polls, 1) * 1000
                print(
                    f"(gunicorn: {intake:.2f} ms per item taking the manifest, then {polls} "
                    f"status reads at {polling:.1f} ms each)",
                    flush=True,
                )
                worker.terminate()
                worker.wait(timeout=120)
                procs.remove(worker)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=120)
        drop(name)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
