"""AI-use decisions end to end, on a fresh database with a 100,000-recording catalog (each with
its master share and the label's rule allowing ``analyze``):

- ``POST /api/v1/checks/`` by ISRC from 32 concurrent clients against gunicorn on loopback,
  configured as ``make run`` configures it (config/gunicorn.py): p50/p99 latency and
  throughput, every answer checked. The clients are wrk's (32 keep-alive connections, each
  sending its next check when the last one is answered) when ``wrk`` is installed (Debian's
  package), else 4 Python processes of 8 threads, which cost the server much of the CPU;
  the output says which;
- a manifest of 100,000 ISRC items (``BENCH_MANIFEST_ITEMS``) submitted through the API and
  decided by a Celery worker with 2 processes: time from submission to the request's completion,
  every decision ledgered.

The clients, the server, the worker and PostgreSQL share the machine's 2 cores. Gunicorn runs
``BENCH_WEB_WORKERS`` processes (default 2) of ``WEB_THREADS`` threads (default 16).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.catalog_import import catalog_csv
from benchmarks.ledger_append import BASE_DIR, drop, scratch_env
from benchmarks.ledger_proofs import free_port, percentile

WORKS = int(os.environ.get("BENCH_CATALOG_ROWS", "100000"))
MANIFEST = int(os.environ.get("BENCH_MANIFEST_ITEMS", "100000"))
CLIENT_PROCESSES, THREADS = 4, 8
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
CHECK_SECONDS = float(os.environ.get("BENCH_CHECK_SECONDS", "20"))

SETUP = """
import sys, django; django.setup()
from django.utils import timezone
from governance import services
from governance.access import Actor
from governance.importing.run import import_catalog
from governance.services import consent
label = services.party_create(name="Bench Records", kind="label")
licensee = services.party_create(name="Bench AI", kind="licensee")
user = services.user_create(username="bench")
services.membership_add(party=licensee, user=user, role="admin")
services.membership_add(party=label, user=user, role="admin")
report = import_catalog(party=label, data=open(sys.argv[1], "rb").read(), fmt="csv",
                        now=timezone.now())
assert not report.problems, report.problems[:3]
consent.rule_create(actor=Actor(user=user, party=label, role="admin"),
                    data={"scope": "all_works", "uses": ["analyze"], "effect": "allow"},
                    now=timezone.now())
_, secret = services.token_create_for(party=licensee, user=user, name="bench", role="admin",
                                      expires_at=None)
print(secret)
"""


def isrc(n: int) -> str:
    return f"GBNWR{25 + n // 100_000:02d}{n % 100_000:05d}"


def post(base: str, token: str, path: str, body: dict[str, object]) -> tuple[float, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Api-Key {token}", "Content-Type": "application/json"},
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        document = json.loads(response.read())
    return time.perf_counter() - t0, document


WRK_SCRIPT = r"""
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(os.time() * 100 + seed)
  bad = 0
  works = tonumber(os.getenv("BENCH_WORKS"))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Api-Key " .. os.getenv("BENCH_TOKEN")
end
function request()
  local n = math.random(0, works - 1)
  local isrc = string.format("GBNWR%02d%05d", 25 + math.floor(n / 100000), n % 100000)
  local body = '{"use":"analyze","item":{"isrc":"' .. isrc .. '"}}'
  return wrk.format(nil, "/api/v1/checks/", nil, body)
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"outcome":"allow"', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d wrong=%d errors=%d seconds=%.3f p50=%.3f p99=%.3f mean=%.3f\n",
    summary.requests, wrong, e.connect + e.read + e.write + e.status + e.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000))
end
"""


def checks_with_wrk(base: str, token: str, tmp: str) -> None:
    script = Path(tmp) / "checks.lua"
    script.write_text(WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CLIENT_PROCESSES * THREADS}", f"-d{CHECK_SECONDS:.0f}s",
         "--timeout", "10s", "-s", str(script), base],
        env={**os.environ, "BENCH_TOKEN": token, "BENCH_WORKS": str(WORKS)},
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    found = re.search(r"RESULT (.*)", out)
    assert found, out
    r = {k: float(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    if r["wrong"] or r["errors"]:
        raise SystemExit(f"checks: {r['wrong']:.0f} wrong answers, {r['errors']:.0f} errors")
    print(
        f"checks, {CLIENT_PROCESSES * THREADS} concurrent clients (wrk): {r['requests']:,.0f} "
        f"in {r['seconds']:.1f} s ({r['requests'] / r['seconds']:,.0f}/s); p50 {r['p50']:.1f} "
        f"ms, p99 {r['p99']:.1f} ms, mean {r['mean']:.1f} ms",
        flush=True,
    )


def checks_with_python(base: str, token: str) -> None:
    with ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
        t0 = time.perf_counter()
        runs = [
            pool.submit(client_process, base, token, CHECK_SECONDS, s)
            for s in range(CLIENT_PROCESSES)
        ]
        latencies = [x for r in runs for x in r.result()]
        wall = time.perf_counter() - t0
    ms = [x * 1000 for x in latencies]
    print(
        f"checks, {CLIENT_PROCESSES * THREADS} concurrent clients (Python; install wrk for a "
        f"client that costs the server less): {len(ms):,} in {wall:.1f} s "
        f"({len(ms) / wall:,.0f}/s); p50 {percentile(ms, 50):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, mean {statistics.fmean(ms):.1f} ms",
        flush=True,
    )


def client_process(base: str, token: str, seconds: float, seed: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def loop(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        while time.perf_counter() < stop:
            item = {"isrc": isrc(rng.randrange(WORKS))}
            took, body = post(base, token, "/api/v1/checks/", {"use": "analyze", "item": item})
            assert body["outcome"] == "allow", body
            with lock:
                latencies.append(took)

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def main() -> None:
    print(f"## AI-use decisions ({WORKS:,}-work catalog)", flush=True)
    env, name = scratch_env()
    env = {**env, "API_THROTTLE_USER": "100000000/minute"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            catalog = Path(tmp) / "catalog.csv"
            catalog.write_bytes(catalog_csv(WORKS))
            token = (
                subprocess.run(
                    [sys.executable, "-c", SETUP, str(catalog)],
                    cwd=BASE_DIR,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "config.wsgi:application",
                        "--config",
                        "config/gunicorn.py",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--log-level",
                        "warning",
                    ],
                    cwd=BASE_DIR,
                    env={**env, "WEB_CONCURRENCY": str(WEB_WORKERS)},
                )
            )
            procs.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "ledger_sequencer"], cwd=BASE_DIR, env=env
                )
            )
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2)  # noqa: S310
                    break
                except OSError:
                    time.sleep(0.2)
            post(base, token, "/api/v1/checks/", {"use": "analyze", "item": {"isrc": isrc(0)}})
            one = [
                post(base, token, "/api/v1/checks/",
                     {"use": "analyze", "item": {"isrc": isrc(n * 7 % WORKS)}})[0] * 1000
                for n in range(300)
            ]  # fmt: skip
            print(f"checks, 1 client: p50 {percentile(one, 50):.1f} ms, "
                  f"p99 {percentile(one, 99):.1f} ms", flush=True)  # fmt: skip
            if shutil.which("wrk"):
                checks_with_wrk(base, token, tmp)
            else:
                checks_with_python(base, token)

            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "--concurrency",
                        "2",
                        "--loglevel",
                        "WARNING",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    cwd=BASE_DIR,
                    env=env,
                )
            )
            manifest = Path(tmp) / "manifest.csv"
            manifest.write_text("isrc\n" + "\n".join(isrc(n % WORKS) for n in range(MANIFEST)))
            time.sleep(3)  # the worker connects
            t0 = time.perf_counter()
            out = subprocess.run(
                [
                    "curl",
                    "-sf",
                    "-H",
                    f"Authorization: Api-Key {token}",
                    "-F",
                    "use=analyze",
                    "-F",
                    f"manifest=@{manifest}",
                    base + "/api/v1/use-requests/",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            request = json.loads(out.stdout)
            submitted = time.perf_counter() - t0
            status = request
            while status["status"] != "completed":
                time.sleep(0.5)
                req = urllib.request.Request(  # noqa: S310 - loopback
                    base + request["status_url"], headers={"Authorization": f"Api-Key {token}"}
                )
                with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310
                    status = json.loads(response.read())
            wall = time.perf_counter() - t0
            print(
                f"manifest of {MANIFEST:,} ISRC items: accepted in {submitted:.1f} s, decided "
                f"and ledgered in {wall:.1f} s ({MANIFEST / wall:,.0f} items/s); "
                f"summary {status['summary']}",
                flush=True,
            )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        drop(name)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
