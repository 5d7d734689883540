"""Tasks per second through each broker Consentry can use: the embedded candidates (kombu's
filesystem transport, kombu's SQLAlchemy transport on the embedded PostgreSQL — the default)
and Redis. Both embedded transports poll, every CELERY_BROKER_POLLING_INTERVAL (0.2 s).

For each broker: start one Celery worker (prefork, concurrency 2, prefetch 1, acks late, as
configured for production), send N tasks from this process, and time (a) sending them and
(b) the first send to the last completion, counted from a file each task appends a line to.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_BROKER_TASKS", "2000"))
TIMEOUT_S = 300


def brokers() -> dict[str, str]:
    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "the embedded PostgreSQL must run (make bench starts it)"
    return {
        "filesystem, polling 0.2 s": "filesystem://localhost//",
        "sqlalchemy on embedded PostgreSQL": "sqla+" + endpoint.sqlalchemy_url(),
        "redis": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
    }


def run_one(name: str, url: str) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
    done_file = workdir / "done.txt"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": url,
        "CONSENTRY_BROKER_DIR": str(workdir / "broker"),
        "LOG_LEVEL": "WARNING",
    }
    # Each run gets a clean queue: its own folder, a purge for the servers.
    code = (
        "import sys; sys.argv[1:] = []\n"
        "import django; django.setup()\n"
        "from config.celery import app\n"
        "import benchmarks.tasks\n"
        "app.control.purge()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, check=True)
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker", "-I", "benchmarks.tasks",
            "--concurrency", "2", "--loglevel", "WARNING", "--without-gossip",
            "--without-mingle", "--without-heartbeat",
        ],
        cwd=BASE_DIR, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        sender = (
            "import sys, time, json\n"
            "import django; django.setup()\n"
            "from benchmarks.tasks import record\n"
            f"path = {str(done_file)!r}\n"
            "t0 = time.perf_counter()\n"
            f"for i in range({N}): record.delay(path, i)\n"
            "print(json.dumps({'sent_s': time.perf_counter() - t0, 't0': time.time()}))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", sender], cwd=BASE_DIR, env=env, check=True,
            capture_output=True, text=True,
        )  # fmt: skip
        import json

        sent = json.loads(out.stdout.strip().splitlines()[-1])
        deadline = time.time() + TIMEOUT_S
        count = 0
        while time.time() < deadline:
            count = len(done_file.read_text().splitlines()) if done_file.exists() else 0
            if count >= N:
                break
            time.sleep(0.05)
        total_s = time.time() - sent["t0"]
        if count < N:
            raise RuntimeError(f"{name}: only {count}/{N} tasks completed in {TIMEOUT_S} s")
        return {"send_per_s": N / sent["sent_s"], "end_to_end_per_s": N / total_s}
    finally:
        # SIGTERM to the worker's main process only: it stops its pool itself (warm shutdown).
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    print(f"## broker throughput ({N} no-op tasks, 1 worker, concurrency 2, acks late)", flush=True)
    print(f"{'broker':<36} {'send tasks/s':>13} {'end-to-end tasks/s':>19}", flush=True)
    for name, url in brokers().items():
        r = run_one(name, url)
        print(f"{name:<36} {r['send_per_s']:>13.0f} {r['end_to_end_per_s']:>19.0f}", flush=True)


if __name__ == "__main__":
    main()
