"""Catalog import into a fresh database (the embedded PostgreSQL), ledger entries included:

- a CSV of 100,000 rows (``BENCH_CATALOG_ROWS``), each a recording with its master share, so
  100,000 works, 100,000 shares and 200,000 ledger entries, through ``manage.py
  import_catalog``; then the same file again (nothing changes);
- a DDEX ERN 4.3 file and an ERN 3.8.2 file of 1,000 recordings each.

Wall time of the whole command (process start, Django set-up, reading, validating, writing and
ledgering), and how many ledger entries the import appended.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ledger_append import BASE_DIR, drop, scratch_env

ROWS = int(os.environ.get("BENCH_CATALOG_ROWS", "100000"))
LABEL = "Northwind Records"

SETUP = """
import django; django.setup()
from governance.services import party_create
party_create(name=%r, kind="label")
"""
PENDING = """
import django; django.setup()
from ledger.models import PendingEntry
print(PendingEntry.objects.count())
"""


def catalog_csv(rows: int) -> bytes:
    """``rows`` recordings with valid, unique ISRCs, credits and a worldwide master share."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "isrc", "title", "display_artist", "duration", "language",
                     "release_date", "main_artists", "producers", "right", "share",
                     "territories"])  # fmt: skip
    for n in range(rows):
        writer.writerow(["recording", f"GBNWR{25 + n // 100_000:02d}{n % 100_000:05d}",
                         f"Track {n}", f"Artist {n % 997}", 180 + n % 120, "en", "2025-01-01",
                         f"Artist {n % 997}", "Kim Ode", "master", "100", "WW"])  # fmt: skip
    return out.getvalue().encode()


def run_command(env: dict[str, str], path: Path) -> tuple[float, dict[str, object]]:
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "import_catalog", str(path), "--party", LABEL, "--json"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"import failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return wall, json.loads(result.stdout.strip().splitlines()[-1])


def pending(env: dict[str, str]) -> int:
    out = subprocess.run([sys.executable, "-c", PENDING], cwd=BASE_DIR, env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from tests.ddex_samples import ern_document

    print(f"## catalog import ({ROWS:,}-row CSV; DDEX ERN files of 1,000 recordings)", flush=True)
    env, name = scratch_env()
    try:
        subprocess.run([sys.executable, "-c", SETUP % LABEL], cwd=BASE_DIR, env=env, check=True)
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "catalog.csv"
            csv_path.write_bytes(catalog_csv(ROWS))
            before = pending(env)
            wall, report = run_command(env, csv_path)
            appended = pending(env) - before
            counts = report["counts"]
            assert isinstance(counts, dict)
            print(f"CSV {ROWS:,} rows: {wall:.1f} s wall ({ROWS / wall:,.0f} rows/s); "
                  f"works {counts.get('works_created', 0):,}, shares "
                  f"{counts.get('shares_created', 0):,}, ledger entries {appended:,}",
                  flush=True)  # fmt: skip
            wall, report = run_command(env, csv_path)
            print(f"CSV again (nothing changes): {wall:.1f} s wall, ledger entries "
                  f"{pending(env) - before - appended}", flush=True)  # fmt: skip
            # Fixed seeds: two different catalogs, the same bytes on every run.
            for seed, version in enumerate(("4.3", "3.8.2"), start=1):
                path = Path(tmp) / f"ern-{version}.xml"
                path.write_bytes(ern_document(recordings=1000, version=version, label=LABEL,
                                              seed=seed))  # fmt: skip
                start = pending(env)
                wall, report = run_command(env, path)
                counts = report["counts"]
                assert isinstance(counts, dict)
                print(f"DDEX ERN {version}, 1,000 recordings: {wall:.2f} s wall; works "
                      f"{counts.get('works_created', 0):,} created "
                      f"{counts.get('works_unchanged', 0):,} unchanged, ledger entries "
                      f"{pending(env) - start:,}", flush=True)  # fmt: skip
    finally:
        drop(name)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
