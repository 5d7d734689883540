"""Inclusion and consistency proofs over HTTP from a ledger of 1,000,000 entries.

The benchmark database (``consentry_bench_ledger``) is built once and kept between runs
(``BENCH_LEDGER_SIZE`` entries, default 1,000,000), then served by gunicorn on a free loopback
port; one client asks for proofs at random indexes against the latest signed checkpoint, and
every answer is verified. Reports p50/p99 latency per proof kind.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "consentry_bench_ledger"
SIZE = int(os.environ.get("BENCH_LEDGER_SIZE", "1000000"))
REQUESTS = int(os.environ.get("BENCH_PROOF_REQUESTS", "2000"))

BUILD = """
import sys, time, django
django.setup()
from django.db import transaction
from django.utils import timezone
from ledger import selectors, services
target = int(sys.argv[1])
have = selectors.head_size()
t0 = time.perf_counter()
now = timezone.now()
while have < target:
    n = min(10_000, target - have)
    with transaction.atomic():
        services.entries_append(
            items=[("bench", {"i": have + k, "sha256": "ab" * 32}) for k in range(n)], time=now)
    services.integrate_all(now=now)
    have += n
    print(f"  built {have:,}/{target:,} entries ({time.perf_counter() - t0:.0f} s)",
          file=sys.stderr, flush=True)
services.checkpoint_sign(now=timezone.now())
print(selectors.signed_size())
"""


def env() -> dict[str, str]:
    return {**os.environ, "CONSENTRY_DATABASE_NAME": DATABASE, "LOG_LEVEL": "WARNING"}


def build() -> int:
    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    embedded.create_database(endpoint, DATABASE)
    for command in (["ledger_keygen"], ["migrate", "-v", "0"]):  # a fresh clone has no key yet
        subprocess.run([sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env(), check=True)
    out = subprocess.run(
        [sys.executable, "-c", BUILD, str(SIZE)], cwd=BASE_DIR, env=env(), check=True,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback URL we built
        body = response.read()
    return time.perf_counter() - t0, body


@contextlib.contextmanager
def serve() -> Iterator[str]:
    """gunicorn over the benchmark database on a free loopback port; yields its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--no-control-socket", "--log-level", "warning"],
        cwd=BASE_DIR, env=env(),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    import base64

    from ledger import merkle, note

    print(
        f"## ledger proofs over HTTP ({SIZE:,} entries, {REQUESTS} requests each, 1 client)",
        flush=True,
    )
    size = build()
    with serve() as base:
        _, checkpoint_note = get(f"{base}/ledger/checkpoint")
        checkpoint = note.Checkpoint.from_body(note.parse_note(checkpoint_note).text)
        assert checkpoint.size == size
        rng = random.Random(7)
        # Warm-up: the first requests of each process load code and fill caches.
        for _ in range(50):
            get(f"{base}/ledger/proof/inclusion?index={rng.randrange(size)}&tree_size={size}")
        results: dict[str, list[float]] = {"inclusion": [], "consistency": []}
        for _ in range(REQUESTS):
            index = rng.randrange(size)
            took, body = get(f"{base}/ledger/proof/inclusion?index={index}&tree_size={size}")
            results["inclusion"].append(took)
            if len(results["inclusion"]) <= 20:  # spot-check answers against the signed root
                _, entry = get(f"{base}/ledger/entries?start={index}&end={index + 1}")
                data = base64.b64decode(json.loads(entry)["entries"][0]["data"])
                merkle.verify_inclusion(
                    index=index, size=size, leaf_hash=merkle.leaf_hash(data),
                    proof=[base64.b64decode(h) for h in json.loads(body)["hashes"]],
                    root=checkpoint.root_hash,
                )  # fmt: skip
            first = rng.randrange(1, size)
            took, body = get(f"{base}/ledger/proof/consistency?first={first}&second={size}")
            results["consistency"].append(took)
        for kind, values in results.items():
            ms = [v * 1000 for v in values]
            print(
                f"{kind:<12} p50 {percentile(ms, 50):6.2f} ms   p99 {percentile(ms, 99):6.2f} ms   "
                f"mean {statistics.fmean(ms):6.2f} ms",
                flush=True,
            )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
