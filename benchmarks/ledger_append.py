"""Ledger appends through ``ledger.services.entry_append`` from 4 writer processes at once,
with a sequencer process integrating and signing a checkpoint every second, into the embedded
PostgreSQL. Reports entries/s from the first append to the last entry covered by a signed
checkpoint, for one entry per transaction (``entry_append``) and for 100 per transaction
(``entries_append``, as a worker ledgers a chunk of decisions).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
WRITERS = 4
PER_WRITER = int(os.environ.get("BENCH_LEDGER_PER_WRITER", "5000"))

WRITER = """
import os, sys, time, django
django.setup()
from django.db import transaction
from django.utils import timezone
from ledger import services
writer, count, per_tx = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
payload = {"request": "9f0c2f4e-3c1d-4d0b-a3a1-5d2c0f1e8b77", "outcome": "allow",
           "rule_versions": ["r1@3", "r7@1"], "content_sha256": "ab" * 32}
i = 0
while i < count:
    with transaction.atomic():
        if per_tx == 1:
            services.entry_append(kind="decision", payload={**payload, "writer": writer, "i": i},
                                  time=timezone.now())
            i += 1
        else:
            n = min(per_tx, count - i)
            services.entries_append(
                items=[("decision", {**payload, "writer": writer, "i": i + k}) for k in range(n)],
                time=timezone.now())
            i += n
"""


def scratch_env() -> tuple[dict[str, str], str]:
    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    name = f"consentry_bench_{uuid.uuid4().hex[:8]}"
    embedded.create_database(endpoint, name)
    env = {**os.environ, "CONSENTRY_DATABASE_NAME": name, "LOG_LEVEL": "WARNING"}
    for command in (["ledger_keygen"], ["migrate", "-v", "0"]):  # a fresh clone has no key yet
        subprocess.run([sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env, check=True)
    return env, name


def drop(name: str) -> None:
    import psycopg

    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None
    with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def covered(env: dict[str, str]) -> int:
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n"
         "from ledger.selectors import signed_size; print(signed_size())"],
        cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


SIGNING_DELAYS = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP
       (ORDER BY d), max(d), count(*)
FROM (SELECT extract(epoch FROM (SELECT c.signed_at FROM ledger_checkpoint c WHERE c.size > e.idx
                                 ORDER BY c.size LIMIT 1) - e.sequenced_at) AS d
      FROM ledger_entry e) AS delays
"""


def signing_delays(name: str) -> str:
    """From an entry's integration to the first signed checkpoint that covers it: DESIGN.md's
    "a checkpoint is signed at least every second while entries arrive" as a measured figure
    (tests check the order of checkpoints and keys, not the clock)."""
    import psycopg

    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None
    with psycopg.connect(endpoint.conninfo(name), autocommit=True) as conn:
        row = conn.execute(SIGNING_DELAYS).fetchone()
    assert row is not None
    p50, p99, worst, count = row
    return (f"integration to signed checkpoint over {count:,} entries: p50 {float(p50):.2f} s, "
            f"p99 {float(p99):.2f} s, max {float(worst):.2f} s")  # fmt: skip


def run(per_tx: int) -> float:
    env, name = scratch_env()
    total = WRITERS * PER_WRITER
    try:
        sequencer = subprocess.Popen(
            [sys.executable, "manage.py", "ledger_sequencer"], cwd=BASE_DIR, env=env
        )
        time.sleep(2)  # let it register its key before the clock starts
        before = covered(env)  # the migrations' and the key's entries
        t0 = time.perf_counter()
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(w), str(PER_WRITER), str(per_tx)],
                cwd=BASE_DIR,
                env=env,
            )
            for w in range(WRITERS)
        ]
        for w in writers:
            assert w.wait() == 0
        written = time.perf_counter() - t0
        while covered(env) < before + total:
            time.sleep(0.1)
        elapsed = time.perf_counter() - t0
        sequencer.terminate()
        sequencer.wait(timeout=60)
        print(
            f"{per_tx:>6} per transaction: {total:,} entries, appended in {written:.1f} s "
            f"({total / written:,.0f}/s); signed-checkpoint coverage after {elapsed:.1f} s "
            f"({total / elapsed:,.0f} entries/s); {signing_delays(name)}",
            flush=True,
        )
        return total / elapsed
    finally:
        drop(name)


def main() -> None:
    print(
        f"## ledger appends ({WRITERS} writer processes, sequencer + 1 s checkpoints)", flush=True
    )
    for per_tx in (1, 100):
        run(per_tx)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
