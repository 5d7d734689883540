"""``POST /api/v1/checks/`` measured as CPU per check, and its latency at fixed offered rates.

A fresh database with a ``BENCH_CHECK_CATALOG``-recording catalog (each with its master share
and the label's rule allowing ``analyze``); gunicorn as ``make run`` starts it
(config/gunicorn.py, ``BENCH_WEB_WORKERS`` processes) and the ledger sequencer, on the embedded
PostgreSQL. For each offered rate of ``BENCH_CHECK_RATES`` (checks per second), a client in a
process of its own sends checks by ISRC **on a schedule** (open loop: the k-th check leaves at
``k / rate`` seconds whether or not the earlier ones were answered) for
``BENCH_CHECK_RATE_SECONDS``; a check's latency runs from the time it was due to leave to the
end of its answer, so a client that falls behind counts its lateness too. Every answer is
checked (200, ``"outcome":"allow"``).

Before the runs, the set-up's ledger entries are integrated and the database vacuumed
(:func:`settle`), so the idle figures are the service's own.

Printed for each rate: the checks answered per second, p50/p99/max latency, and the CPU time
of each server process tree over the run (from ``/proc/<pid>/stat``: ``utime + stime`` of every
process of the tree, plus ``cutime + cstime``, the children it reaped) divided by the checks
answered: gunicorn (master and workers), PostgreSQL (the postmaster and every backend and
auxiliary process of the embedded cluster) and the sequencer; the client's own CPU time
(``getrusage`` in its process); and the 1-minute load average before and after, since the
machine's two cores are shared. CPU per check is the figure that other load disturbs least.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.catalog_import import catalog_csv
from benchmarks.ledger_append import BASE_DIR, drop, scratch_env
from benchmarks.ledger_proofs import free_port, percentile
from benchmarks.requests_pipeline import SETUP, isrc

WORKS = int(os.environ.get("BENCH_CHECK_CATALOG", "20000"))
RATES = [float(r) for r in os.environ.get("BENCH_CHECK_RATES", "50,100,200,400").split(",")]
SECONDS = float(os.environ.get("BENCH_CHECK_RATE_SECONDS", "20"))
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
TICKS = os.sysconf("SC_CLK_TCK")


# --- Process accounting -------------------------------------------------------------------------


def _stats() -> dict[int, tuple[int, float]]:
    """Every process's parent and CPU seconds (own, plus its reaped children's)."""
    out: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The command name (field 2) may hold spaces: split after its closing parenthesis.
        fields = raw[raw.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        out[int(entry)] = (ppid, (utime + stime + cutime + cstime) / TICKS)
    return out


def tree_cpu(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds of each named process tree (the root and all its descendants)."""
    stats = _stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    totals: dict[str, float] = {}
    for name, root in roots.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += stats.get(pid, (0, 0.0))[1]
            todo += children.get(pid, [])
        totals[name] = total
    return totals


def catalog_token(env: dict[str, str], works: int) -> str:
    """Import a ``works``-recording catalog into the scratch database of ``env`` (the label's
    rule allowing ``analyze``, a licensee) and return the licensee's token (``SETUP``)."""
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "catalog.csv"
        catalog.write_bytes(catalog_csv(works))
        return subprocess.run(
            [sys.executable, "-c", SETUP, str(catalog)],
            cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip


def load() -> float:
    return os.getloadavg()[0]


def settle(env: dict[str, str], conninfo: str) -> None:
    """After the set-up: its ledger entries integrated and signed (``ledger_sequencer --once``)
    and the database vacuumed and analysed, so that neither the sequencer's backlog nor
    autovacuum's first pass over the fresh tables is counted in what is measured next."""
    import psycopg

    subprocess.run(
        [sys.executable, "manage.py", "ledger_sequencer", "--once"],
        cwd=BASE_DIR, env=env, check=True,
    )  # fmt: skip
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# --- The open-loop client (its own process) -----------------------------------------------------


async def _open_loop(
    host: str, port: int, token: str, rate: float, seconds: float
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    rng = random.Random(int(rate))
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    problems: list[str] = []
    retries = 0
    late = 0

    def request_bytes() -> bytes:
        body = json.dumps({"use": "analyze", "item": {"isrc": isrc(rng.randrange(WORKS))}})
        return (
            f"POST /api/v1/checks/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Api-Key {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    async def exchange(
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], data: bytes
    ) -> tuple[int, bytes, bool]:
        reader, writer = conn
        writer.write(data)
        await writer.drain()
        status = int((await reader.readuntil(b"\r\n")).split()[1])
        length, close = 0, False
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        return status, await reader.readexactly(length), close

    async def one(due: float) -> None:
        nonlocal retries
        data = request_bytes()
        for attempt in range(2):
            reused = bool(idle) and attempt == 0  # a retry takes a new connection
            conn = idle.pop() if reused else await asyncio.open_connection(host, port)
            try:
                status, body, close = await asyncio.wait_for(exchange(conn, data), 60)
            except (ConnectionError, asyncio.IncompleteReadError):
                conn[1].close()
                if reused and attempt == 0:  # the server closed an idle keep-alive connection
                    retries += 1
                    continue
                raise
            break
        latencies.append(loop.time() - due)
        if close:
            conn[1].close()
        else:
            idle.append(conn)
        if status != 200 or b'"outcome":"allow"' not in body:
            problems.append(f"{status} {body[:200]!r}")

    count = int(rate * seconds)
    start = loop.time() + 0.1
    tasks = []
    for k in range(count):
        due = start + k / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.001:
            late += 1
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    wall = loop.time() - start
    for _, writer in idle:
        writer.close()
    return {
        "sent": count,
        "wall": wall,
        "latencies": latencies,
        "problems": problems[:5],
        "wrong": len(problems),
        "retries": retries,
        "late": late,
    }


def client_main(base: str, token: str, rate: float, seconds: float) -> None:
    """Run one rate and print its figures as JSON (``python -m benchmarks.check_cpu --client``)."""
    host, port = base.removeprefix("http://").split(":")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(_open_loop(host, int(port), token, rate, seconds))
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu"] = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    print(json.dumps(result))


# --- The run ------------------------------------------------------------------------------------


def _post(base: str, token: str, n: int) -> None:
    body = json.dumps({"use": "analyze", "item": {"isrc": isrc(n % WORKS)}}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        base + "/api/v1/checks/",
        data=body,
        method="POST",
        headers={"Authorization": f"Api-Key {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        assert b'"outcome":"allow"' in response.read()


def main() -> None:
    from config import embedded

    print(f"## Checks: CPU per check and open-loop latency ({WORKS:,}-work catalog)", flush=True)
    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    env, name = scratch_env()
    env = {**env, "API_THROTTLE_USER": "100000000/minute"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        token = catalog_token(env, WORKS)
        settle(env, endpoint.conninfo(name))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config",
             "config/gunicorn.py", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=BASE_DIR, env={**env, "WEB_CONCURRENCY": str(WEB_WORKERS)},
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
        for n in range(200):  # warm: every thread's connection, the caches
            _post(base, token, n * 7)
        roots = {"gunicorn": gunicorn.pid, "postgresql": endpoint.pid, "sequencer": sequencer.pid}
        print(
            f"gunicorn: {WEB_WORKERS} processes of {os.environ.get('WEB_THREADS', '16')} "
            f"threads; {SECONDS:.0f} s at each rate; CPU ms per check answered",
            flush=True,
        )
        idle0 = tree_cpu(roots)
        time.sleep(10)
        idle = {k: (v - idle0[k]) / 10 * 1000 for k, v in tree_cpu(roots).items()}
        print(
            "idle, CPU ms per second: "
            + ", ".join(f"{k} {v:.1f}" for k, v in idle.items())
            + f" (load {load():.1f})",
            flush=True,
        )
        print(
            "| offered/s | answered/s | p50 ms | p99 ms | max ms | gunicorn | PostgreSQL | "
            "sequencer | server total | client | load before → after |",
            flush=True,
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
        for rate in RATES:
            time.sleep(2)  # the sequencer integrates what the last rate left
            load0, cpu0 = load(), tree_cpu(roots)
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.check_cpu", "--client", base, token,
                 str(rate), str(SECONDS)],
                cwd=BASE_DIR, env=env, check=True, stdout=subprocess.PIPE, text=True,
            ).stdout  # fmt: skip
            time.sleep(1)  # the sequencer integrates the run's last entries
            cpu1, load1 = tree_cpu(roots), load()
            r = json.loads(out)
            if r["wrong"]:
                raise SystemExit(f"checks at {rate}/s: {r['wrong']} wrong: {r['problems']}")
            ms = [x * 1000 for x in r["latencies"]]
            n = len(ms)
            per = {k: (cpu1[k] - cpu0[k]) / n * 1000 for k in roots}
            print(
                f"| {rate:.0f} | {n / r['wall']:,.0f} | {percentile(ms, 50):.1f} | "
                f"{percentile(ms, 99):.1f} | {max(ms):.0f} | {per['gunicorn']:.2f} | "
                f"{per['postgresql']:.2f} | {per['sequencer']:.2f} | {sum(per.values()):.2f} | "
                f"{r['cpu'] / n * 1000:.2f} | {load0:.1f} → {load1:.1f} |",
                flush=True,
            )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        drop(name)


# --- The profile: checks through the WSGI application in one process ------------------------------

PROFILE_CHECKS = int(os.environ.get("BENCH_CHECK_PROFILE", "1000"))

_PROFILED = """
import cProfile, io, json, os, pstats, sys, time
import django; django.setup()
from config.wsgi import application
token, count = sys.argv[1], int(sys.argv[2])

def environ(n):
    body = json.dumps({"use": "analyze", "item": {"isrc": "GBNWR%02d%05d" % (25 + n // 100000,
                                                                          n % 100000)}}).encode()
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/checks/", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": "Api-Key " + token, "wsgi.errors": sys.stderr}

def run(first, count):
    for n in range(first, first + count):
        status = []
        out = b"".join(application(environ(n * 7 % WORKS), lambda s, h: status.append(s)))
        assert status[0].startswith("200") and b'"outcome":"allow"' in out, (status, out[:200])

WORKS = int(os.environ.get("BENCH_CHECK_CATALOG", "20000"))
run(0, 50)  # warm: the connection, the caches
t0 = time.process_time(); w0 = time.perf_counter()
run(50, count)
cpu = (time.process_time() - t0) / count * 1000
wall = (time.perf_counter() - w0) / count * 1000
print(f"unprofiled: {cpu:.2f} ms of CPU a check in the process ({wall:.2f} ms wall)", flush=True)
profiler = cProfile.Profile(time.process_time)
profiler.enable()
run(50 + count, count)
profiler.disable()
if os.environ.get("BENCH_CHECK_PROFILE_OUT"):
    profiler.dump_stats(os.environ["BENCH_CHECK_PROFILE_OUT"])
stats = pstats.Stats(profiler, stream=sys.stdout)
stats.sort_stats("cumulative").print_stats(int(os.environ.get("BENCH_CHECK_PROFILE_LINES", "60")))
stats.sort_stats("tottime").print_stats(30)
"""


def profile_main() -> None:
    """``python -m benchmarks.check_cpu --profile``: ``BENCH_CHECK_PROFILE`` checks by ISRC
    through the WSGI application (every middleware, the view, the service) in one process,
    one thread, on the same set-up as the benchmark; their CPU a check unprofiled, then a
    cProfile (timer ``time.process_time``: CPU, not waits) of as many again."""
    env, name = scratch_env()
    try:
        token = catalog_token(env, WORKS)
        from config import embedded

        endpoint = embedded.running_endpoint()
        assert endpoint is not None
        settle(env, endpoint.conninfo(name))
        print(f"load {load():.1f}", flush=True)
        subprocess.run(
            [sys.executable, "-c", _PROFILED, token, str(PROFILE_CHECKS)],
            cwd=BASE_DIR, env={**env, "API_THROTTLE_USER": "100000000/minute"}, check=True,
        )  # fmt: skip
        print(f"load {load():.1f}", flush=True)
    finally:
        drop(name)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["--client"]:
        client_main(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
    elif sys.argv[1:2] == ["--profile"]:
        profile_main()
    else:
        main()
